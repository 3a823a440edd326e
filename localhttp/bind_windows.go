package localhttp

import (
	"errors"

	"golang.org/x/sys/windows"
)

// addrInUse reports whether a listen failed because another socket holds
// the address.
func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }

// noSuchFamily reports whether a listen failed because the host has no
// such address or address family (no IPv6 loopback, for one).
func noSuchFamily(err error) bool {
	return errors.Is(err, windows.WSAEADDRNOTAVAIL) || errors.Is(err, windows.WSAEAFNOSUPPORT) || errors.Is(err, windows.WSAEPROTONOSUPPORT)
}
