//go:build !unix

package probe

import "time"

// cpuTime is not known here: Sweep says it is unsupported.
func cpuTime() (time.Duration, bool) { return 0, false }

// writeFD is never called here: Sweep stops before its floor writes.
func writeFD(uintptr, []byte) (int, error) { return 0, ErrSweepUnsupported }
