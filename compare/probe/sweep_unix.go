//go:build unix

package probe

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far,
// all its threads together: the server's, in a sweep.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// writeFD is one write(2) on a socket's descriptor, as the floor does it:
// no poller, no deadline, no lock. The descriptor is non-blocking (Go made
// it so), so a full socket answers EAGAIN instead of waiting.
func writeFD(fd uintptr, b []byte) (int, error) {
	return syscall.Write(int(fd), b)
}
