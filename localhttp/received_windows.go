package localhttp

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fionread is Winsock's FIONREAD: how many bytes a socket has received and
// not yet handed to a reader.
const fionread = 0x4004667f

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
	var n uint32
	var ierr error
	if err := raw.Control(func(s uintptr) {
		var got uint32
		ierr = windows.WSAIoctl(windows.Handle(s), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), uint32(unsafe.Sizeof(n)), &got, nil, 0)
	}); err != nil {
		return false
	}
	return ierr == nil && n > 0
}
