package localhttp

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// fionread is Winsock's FIONREAD: how many bytes a socket has received and
// not yet handed to a reader.
const fionread = 0x4004667f

// hasUnread reports whether the socket s has received bytes not yet read.
func hasUnread(s uintptr) bool {
	var n, got uint32
	err := windows.WSAIoctl(windows.Handle(s), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), uint32(unsafe.Sizeof(n)), &got, nil, 0)
	return err == nil && n > 0
}
