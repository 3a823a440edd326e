//go:build !windows

package localhttp

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// received reports whether bytes have reached c that nobody has read yet.
// It reads nothing: the bytes stay for whoever reads c next.
func received(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var rerr error
	var b [1]byte
	if err := raw.Control(func(fd uintptr) {
		n, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		return false
	}
	return rerr == nil && n > 0
}
