//go:build windows

package peercred

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCurrentWindows(t *testing.T) {
	u, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.ID, "S-1-") {
		t.Errorf("Current() = %q, want a SID", u)
	}
}

// TestPeerWindows checks both ends of IPv4 and IPv6 connections and the listeners
// as our own user, and that a closed peer is not found.
func TestPeerWindows(t *testing.T) {
	self, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ network, addr string }{
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				t.Skip(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, _ := ln.Accept()
				accepted <- c
			}()
			client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server := <-accepted
			if server == nil {
				t.Fatal("accept failed")
			}
			defer server.Close()

			for name, c := range map[string]net.Conn{"server": server, "client": client} {
				if u, err := PeerOfConn(c); err != nil || u != self {
					t.Errorf("PeerOfConn(%s) = %v, %v; want %v", name, u, err, self)
				}
			}
			lnAddr := ln.Addr().(*net.TCPAddr).AddrPort()
			if u, err := ListenerOwner(lnAddr); err != nil || u != self {
				t.Errorf("ListenerOwner(%v) = %v, %v; want %v", lnAddr, u, err, self)
			}

			sl := server.LocalAddr().(*net.TCPAddr).AddrPort()
			sr := server.RemoteAddr().(*net.TCPAddr).AddrPort()
			client.Close()
			server.Close()
			if u, err := PeerOf(sl, sr); !errors.Is(err, ErrNotFound) {
				t.Errorf("PeerOf after close = %v, %v; want ErrNotFound", u, err)
			}
		})
	}
	if _, err := PeerOf(netip.MustParseAddrPort("192.0.2.1:80"), netip.MustParseAddrPort("192.0.2.2:5000")); !errors.Is(err, ErrNotFound) {
		t.Errorf("PeerOf off loopback = %v, want ErrNotFound", err)
	}
}
