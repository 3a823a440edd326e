//go:build linux || windows

package peercred

import (
	"net"
	"net/netip"
	"testing"
)

// addrPort returns a, which must be a *net.TCPAddr, as an AddrPort.
func addrPort(t testing.TB, a net.Addr) netip.AddrPort {
	t.Helper()
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta == nil {
		t.Fatalf("%T is not a tcp address", a)
	}
	return ta.AddrPort()
}

// peerOfConn asks PeerOf about the other end of c from c's own two addresses, as
// the agent and the port service ask about a connection they accepted.
func peerOfConn(t testing.TB, c net.Conn) (User, error) {
	t.Helper()
	return PeerOf(addrPort(t, c.LocalAddr()), addrPort(t, c.RemoteAddr()))
}
