//go:build !windows

package localhttp

import (
	"errors"
	"syscall"
)

// addrInUse reports whether a listen failed because another socket holds
// the address.
func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// noSuchFamily reports whether a listen failed because the host has no
// such address or address family (no IPv6 loopback, for one).
func noSuchFamily(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}
