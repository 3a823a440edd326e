//go:build windows

package peercred

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/wine"
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

// Why Wine 8's GetExtendedTcpTable leaves dwOwningPid 0 where Windows fills
// it in. Wine finds a socket's process by looking for the socket's inode
// among the open files in /proc/PID/fd of each of its processes.
const (
	// Wine keeps every socket in wineserver; a process holds a descriptor of
	// its own only for some, such as a socket it connected, and never for a
	// listening socket or one it accepted, even after reading and writing.
	wineServerSockets = "GetExtendedTcpTable gives PID 0 for listening and accepted sockets, which only wineserver holds open"
	// Wine's parser of /proc/net/tcp6 skips seven fields after the state
	// where the inode is the sixth, so it reads the wrong column.
	wineNoIPv6Owners = "GetExtendedTcpTable gives PID 0 for every IPv6 socket (its /proc/net/tcp6 parser reads the wrong column as the inode)"
)

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

			// What the agent and the port service ask: who is at the other end
			// of a connection accepted from a browser.
			t.Run("server end", func(t *testing.T) {
				if tc.network == "tcp6" {
					wine.SkipBefore(t, 10, wineNoIPv6Owners)
				}
				if u, err := peerOfConn(t, server); err != nil || u != self {
					t.Errorf("PeerOf(server end) = %v, %v; want %v", u, err, self)
				}
			})
			t.Run("client end", func(t *testing.T) {
				wine.SkipBefore(t, 10, wineServerSockets)
				if u, err := peerOfConn(t, client); err != nil || u != self {
					t.Errorf("PeerOf(client end) = %v, %v; want %v", u, err, self)
				}
			})
			t.Run("listener", func(t *testing.T) {
				wine.SkipBefore(t, 10, wineServerSockets)
				lnAddr := addrPort(t, ln.Addr())
				if l, err := FindListener(lnAddr); err != nil || l.Owner != self {
					t.Errorf("FindListener(%v) = %+v, %v; want owner %v", lnAddr, l, err, self)
				}
			})

			sl, sr := addrPort(t, server.LocalAddr()), addrPort(t, server.RemoteAddr())
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
