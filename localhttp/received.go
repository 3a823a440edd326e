package localhttp

import (
	"net"
	"syscall"
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
	var unread bool
	if err := raw.Control(func(s uintptr) { unread = hasUnread(s) }); err != nil {
		return false
	}
	return unread
}
