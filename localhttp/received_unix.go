//go:build !windows

package localhttp

import "golang.org/x/sys/unix"

// hasUnread reports whether the socket s has received bytes not yet read,
// by peeking at one without waiting.
func hasUnread(s uintptr) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(int(s), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n > 0
}
