//go:build unix

package probe

import "syscall"

// RaiseFileLimit raises this process's soft limit on open files to the hard
// limit, as far as it goes, and returns the new soft limit. Thousands of
// connections in one process (client and server ends both count) need more
// than the usual soft limit of 1024.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		want := lim
		want.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(lim.Cur), err
		}
		lim = want
	}
	return uint64(lim.Cur), nil
}
