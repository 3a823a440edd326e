package localhttp

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestCanBind checks that a port any socket holds on either loopback address
// fails the test-bind, and a free one passes and stays free.
func TestCanBind(t *testing.T) {
	free, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := CanBind(free); err != nil {
		t.Fatalf("CanBind(free port %d) = %v", free, err)
	}
	if err := CanBind(free); err != nil {
		t.Fatalf("CanBind(%d) again = %v: the first test-bind did not release the port", free, err)
	}

	target, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	clientOn := func(host string) int {
		network, to := "tcp4", target
		if host == "::1" {
			ln6, err := net.Listen("tcp6", "[::1]:0")
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			t.Cleanup(func() { ln6.Close() })
			network, to = "tcp6", ln6
		}
		// The listener is made first: a port FreePort gave and then
		// released could otherwise be handed to it, and the client would
		// dial itself.
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host), Port: port}, Timeout: 5 * time.Second}
		c, err := d.Dial(network, to.Addr().String())
		if err != nil {
			t.Fatalf("dial from %s:%d: %v", host, port, err)
		}
		t.Cleanup(func() { c.Close() })
		return port
	}
	listenerV6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer listenerV6.Close()

	cases := []struct {
		name string
		port int
	}{
		{"listener on 127.0.0.1", target.Addr().(*net.TCPAddr).Port},
		{"listener on [::1] only", listenerV6.Addr().(*net.TCPAddr).Port},
		{"client socket on 127.0.0.1", clientOn("127.0.0.1")},
		{"client socket on [::1]", clientOn("::1")},
	}
	for _, c := range cases {
		if err := CanBind(c.port); !errors.Is(err, ErrPortHeld) {
			t.Errorf("%s: CanBind(%d) = %v, want ErrPortHeld", c.name, c.port, err)
		}
	}
	if err := CanBind(0); err == nil {
		t.Error("CanBind(0) passed")
	}
}

// TestFreePort checks that the port FreePort gives can be listened on on both
// loopback addresses.
func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	lns, err := Listen("localhost:" + strconv.Itoa(port))
	if err != nil {
		t.Fatalf("Listen on the free port %d: %v", port, err)
	}
	for _, l := range lns {
		l.Close()
	}
}
