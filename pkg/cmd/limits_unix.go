//go:build unix

package cmd

import "syscall"

// fileLimit raises the soft limit of open files to the hard one (Go does
// this itself at start on most systems; done here so it holds everywhere)
// and returns it; 0 if unknown.
func fileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		raised := l
		raised.Cur = l.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			l = raised
		}
	}
	return uint64(l.Cur) //nolint:unconvert // Rlimit.Cur is int64 on the BSDs
}
