//go:build linux

package peercred

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// freeLoopbackPort returns a port free on 127.0.0.1, [::1] and 127.0.0.2 a
// moment ago.
func freeLoopbackPort(t testing.TB) uint16 {
	t.Helper()
	for range 20 {
		ln := listen(t, "tcp4", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// Free on 127.0.0.2 too: a port the test holds there (a client
		// socket bound to 127.0.0.2 only) must not be chosen again.
		ln6, err6 := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port))
		ln2, err2 := net.Listen("tcp4", fmt.Sprintf("127.0.0.2:%d", port))
		for _, l := range []net.Listener{ln6, ln2} {
			if l != nil {
				l.Close()
			}
		}
		if err6 == nil && err2 == nil {
			return uint16(port)
		}
	}
	t.Fatal("no port free on every loopback address the test uses")
	return 0
}

// dialFrom connects to ln from a client socket bound to host:port, as a program
// holding a port without listening on it does.
func dialFrom(t *testing.T, host string, port uint16, ln net.Listener) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host), Port: int(port)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Skipf("dial %v from %s:%d: %v", ln.Addr(), host, port, err)
	}
	t.Cleanup(func() { c.Close() })
}

// portUsers returns the owners, each once, of the sockets BoundSockets finds on
// port.
func portUsers(port uint16) ([]User, error) {
	bs, err := BoundSockets(port, port)
	if err != nil {
		return nil, err
	}
	var users []User
	for _, b := range bs {
		if !slices.Contains(users, b.Owner) {
			users = append(users, b.Owner)
		}
	}
	return users, nil
}

// TestBoundSocketsOwners checks that a client socket bound to a port,
// connected and not listening, is found with its owner, as a listener is, on
// each lookup path.
func TestBoundSocketsOwners(t *testing.T) {
	self := me(t)
	ln4 := listen(t, "tcp4", "127.0.0.1:0")
	ln6 := listen(t, "tcp6", "[::1]:0")
	listenPort := uint16(ln4.Addr().(*net.TCPAddr).Port)

	mine4, mine6, free, elsewhere := freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t), freeLoopbackPort(t)
	dialFrom(t, "127.0.0.1", mine4, ln4)
	dialFrom(t, "::1", mine6, ln6)
	dialFrom(t, "127.0.0.2", elsewhere, ln4) // 127.0.0.2 leaves 127.0.0.1 free

	cases := []struct {
		name string
		port uint16
		want []User
	}{
		{"client socket on 127.0.0.1", mine4, []User{self}},
		{"client socket on [::1]", mine6, []User{self}},
		{"listener", listenPort, []User{self}},
		{"free port", free, nil},
		{"client socket on 127.0.0.2 only", elsewhere, nil},
	}
	if os.Geteuid() == 0 {
		bin := testutil.CopyTestBinary(t, testutil.SharedTempDir(t), "peercred.test")
		them := uidUser(nobody)
		theirs4, theirs6 := freeLoopbackPort(t), freeLoopbackPort(t)
		startNobody(t, bin, fmt.Sprintf("dialfrom 127.0.0.1:%d %s", theirs4, ln4.Addr()))
		startNobody(t, bin, fmt.Sprintf("dialfrom [::1]:%d %s", theirs6, ln6.Addr()))
		cases = append(cases,
			struct {
				name string
				port uint16
				want []User
			}{"another user's client socket on 127.0.0.1", theirs4, []User{them}},
			struct {
				name string
				port uint16
				want []User
			}{"another user's client socket on [::1]", theirs6, []User{them}},
		)
	}

	forEachPath(t, func(t *testing.T) {
		for _, c := range cases {
			got, err := portUsers(c.port)
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("%s: the owners of BoundSockets(%d) = %v, %v; want %v", c.name, c.port, got, err, c.want)
			}
		}
		bs, err := BoundSockets(mine4, mine4)
		if err != nil || len(bs) != 1 || bs[0].Listening || bs[0].Addr != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), mine4) {
			t.Errorf("BoundSockets(%d) = %+v, %v; want one client socket on 127.0.0.1", mine4, bs, err)
		}
	})
}

// TestBoundSocketsRange checks a range lookup finds every port of it and none
// outside, and that a bad range is refused.
func TestBoundSocketsRange(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	a, b := freeLoopbackPort(t), freeLoopbackPort(t)
	dialFrom(t, "127.0.0.1", a, ln)
	dialFrom(t, "127.0.0.1", b, ln)
	lo, hi := min(a, b), max(a, b)
	forEachPath(t, func(t *testing.T) {
		bs, err := BoundSockets(lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint16]bool{}
		for _, s := range bs {
			if s.Addr.Port() < lo || s.Addr.Port() > hi {
				t.Errorf("BoundSockets(%d, %d) answered %+v", lo, hi, s)
			}
			seen[s.Addr.Port()] = true
		}
		if !seen[a] || !seen[b] {
			t.Errorf("BoundSockets(%d, %d) = %+v; want ports %d and %d", lo, hi, bs, a, b)
		}
	})
	if _, err := BoundSockets(hi, lo-1); err == nil {
		t.Errorf("BoundSockets(%d, %d) did not refuse an empty range", hi, lo-1)
	}
}
