package localhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

// serveAdmit serves an always-200 handler behind g on 127.0.0.1 until the
// test ends and returns the address.
func serveAdmit(t *testing.T, g *Guard) string {
	t.Helper()
	return serveGuarded(t, g, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })).addr
}

// guarded is h served behind a Guard by serveGuarded.
type guarded struct {
	addr   string
	cancel context.CancelFunc // begins the stop
	done   chan struct{}      // closed when Serve has returned
}

// serveGuarded serves h behind g on 127.0.0.1 until cancel or the end of
// the test, which waits for Serve to return.
func serveGuarded(t *testing.T, g *Guard, h http.Handler) *guarded {
	t.Helper()
	return serveGuardedWith(t, g, h, ServeOptions{})
}

// serveGuardedWith is serveGuarded with opt.
func serveGuardedWith(t *testing.T, g *Guard, h http.Handler, opt ServeOptions) *guarded {
	t.Helper()
	lns, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &guarded{addr: lns[0].Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() { defer close(s.done); _ = g.Serve(ctx, h, opt, lns...) }()
	t.Cleanup(func() { cancel(); <-s.done })
	return s
}

// answerOf reads what the server says on c without sending anything, or ""
// if it says nothing within wait.
func answerOf(t *testing.T, c net.Conn, wait time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// TestStrangersAreTurnedAwayOnConnect: another user's connections are
// turned away as they are accepted, answered WRONG_USER and closed, so they
// never reach the server; the agent's own user is served.
func TestStrangersAreTurnedAwayOnConnect(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	var logs testutil.Buffer
	g := NewGuard(GuardOptions{
		Self: &self,
		PeerOwner: func(c net.Conn) (peercred.User, error) {
			if strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.2:") {
				return peercred.User{ID: "uid:1001"}, nil
			}
			return self, nil
		},
		Logger: zerolog.New(&logs),
	})
	addr := serveAdmit(t, g)
	stranger := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	for i := 0; i < 50; i++ {
		c, err := stranger.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "GET /api/card HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		got := answerOf(t, c, 5*time.Second)
		c.Close()
		if !strings.HasPrefix(got, "HTTP/1.1 403 Forbidden\r\n") || !strings.Contains(got, `"code":"WRONG_USER"`) {
			t.Fatalf("connection %d from another user: %q", i, got)
		}
	}
	if n := strings.Count(logs.String(), "refused connection"); n != refusalBurst {
		t.Errorf("%d refusals logged in full, want %d", n, refusalBurst)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the agent's own user: %d", resp.StatusCode)
	}
}

// TestConnectionsPerUser: with MaxConnsPerUser, one user holding its
// connections open cannot keep another's out, and gets BUSY beyond them.
func TestConnectionsPerUser(t *testing.T) {
	g := NewGuard(GuardOptions{
		PeerOwner: func(c net.Conn) (peercred.User, error) {
			if strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.2:") {
				return peercred.User{ID: "uid:1001"}, nil
			}
			return peercred.User{ID: "uid:1002"}, nil
		},
		Logger:          zerolog.Nop(),
		MaxConnsPerUser: 3,
	})
	addr := serveAdmit(t, g)
	hog := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := hog.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		if got := answerOf(t, c, 200*time.Millisecond); got != "" {
			t.Fatalf("an admitted connection was answered %q", got)
		}
	}
	c, err := hog.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got := answerOf(t, c, 5*time.Second)
	c.Close()
	if !strings.HasPrefix(got, "HTTP/1.1 503 Service Unavailable\r\n") || !strings.Contains(got, `"code":"BUSY"`) {
		t.Fatalf("the fourth connection: %q", got)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("another user beside the hog: %d", resp.StatusCode)
	}
	// A connection given back is a slot free again.
	held[0].Close()
	held = held[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := hog.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		got := answerOf(t, c, 200*time.Millisecond)
		if got == "" {
			held = append(held, c)
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no slot came back after a connection closed: %q", got)
		}
	}
}
