//go:build unix

package server

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the client closed (or reset) conn, with a
// read that does not wait: the descriptor is non-blocking, and the function
// given to RawConn.Read returns at once. What a client sent after its
// request is read and dropped (a stream takes no more requests), at most a
// few hundred bytes a look.
func peerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [64]byte
	err = raw.Read(func(fd uintptr) bool {
		for range 8 {
			n, err := syscall.Read(int(fd), buf[:])
			switch {
			case n > 0:
				continue
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
			default: // 0 bytes: the end of the stream; or the connection's error
				closed = true
			}
			return true
		}
		return true
	})
	return closed || err != nil
}
