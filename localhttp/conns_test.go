package localhttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

// shortLimits sets the connections' head limit and sweep for one test.
func shortLimits(t *testing.T, head, sweep time.Duration) {
	h, s := headTimeout, sweepEvery
	t.Cleanup(func() { headTimeout, sweepEvery = h, s }) // after Serve has returned
	headTimeout, sweepEvery = head, sweep
}

// serveLimited serves a handler that answers 200, after slow for the path
// /slow, behind a Guard with the given idle limit and returns its address.
func serveLimited(t *testing.T, idle, slow time.Duration) string {
	self := peercred.User{ID: "uid:1000"}
	g := NewGuard(GuardOptions{
		Self:        &self,
		PeerOwner:   func(net.Conn) (peercred.User, error) { return self, nil },
		Logger:      zerolog.Nop(),
		IdleTimeout: idle,
	})
	return serveGuarded(t, g, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(slow)
		}
		_, _ = io.WriteString(w, "ok")
	})).addr
}

// closedWithin reads c until the server closes it and returns how long
// that took, failing the test if it is still open after wait.
func closedWithin(t *testing.T, c net.Conn, r *bufio.Reader, wait time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(wait))
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("the connection was still open after %s: %v", wait, err)
	}
	return time.Since(start)
}

// ask sends GET path on c and reads its answer.
func ask(t *testing.T, c net.Conn, r *bufio.Reader, addr, path string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answered %d, want 200", resp.StatusCode)
	}
}

// dialServer connects to addr until the test ends.
func dialServer(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// A request head has headTimeout to arrive, on a new connection from its
// accept and on a kept-alive one from its first bytes; a client that stops
// halfway loses the connection, not before the limit and well before the
// idle limit. A head sent slowly within the limit is answered.
func TestHeadTimeout(t *testing.T) {
	const head, sweep = 400 * time.Millisecond, 50 * time.Millisecond
	shortLimits(t, head, sweep)
	addr := serveLimited(t, time.Minute, 0)
	partial := "GET / HTTP/1.1\r\nHost: " + addr + "\r\n"

	// stall sends the start of a head on c, and checks that the server
	// closes c between head and a second after start.
	stall := func(t *testing.T, c net.Conn, r *bufio.Reader, start time.Time, what string) {
		_, _ = io.WriteString(c, partial)
		closedWithin(t, c, r, 10*time.Second)
		if took := time.Since(start); took < head || took > head+time.Second {
			t.Errorf("a stalled %s was closed after %s, want between %s and %s", what, took, head, head+time.Second)
		}
	}
	t.Run("first request", func(t *testing.T) {
		start := time.Now() // before the accept, from which it is timed
		c, r := dialServer(t, addr)
		stall(t, c, r, start, "first head, from the connection's start,")
	})
	t.Run("kept-alive", func(t *testing.T) {
		c, r := dialServer(t, addr)
		ask(t, c, r, addr, "/")
		time.Sleep(2 * head) // idle, longer than a head may take
		stall(t, c, r, time.Now(), "second head, from its first bytes,")
	})
	t.Run("slow but in time", func(t *testing.T) {
		c, r := dialServer(t, addr)
		ask(t, c, r, addr, "/")
		for _, part := range []string{"GET / HTTP/1.1\r\n", "Host: " + addr + "\r\n", "X-Slow: 1\r\n"} {
			_, _ = io.WriteString(c, part)
			time.Sleep(head / 5)
		}
		_, _ = io.WriteString(c, "\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("a head sent over %s of the %s allowed: %v", 3*head/5, head, err)
		}
		resp.Body.Close()
	})
}

// A kept-alive connection is closed once idle for the Guard's IdleTimeout,
// not before; each answer starts its idle time again, however long the
// request took to answer.
func TestIdleTimeout(t *testing.T) {
	const idle, sweep = 600 * time.Millisecond, 50 * time.Millisecond
	shortLimits(t, 5*time.Second, sweep)
	addr := serveLimited(t, idle, 2*idle)
	for _, path := range []string{"/", "/slow"} {
		c, r := dialServer(t, addr)
		for range 4 { // 4 × idle/2 apart: open longer than idle in all
			ask(t, c, r, addr, "/")
			time.Sleep(idle / 2)
		}
		// Requests closer together than the sweeps: the sweep sees
		// the connection idle each time, but never the same idle.
		for end := time.Now().Add(2 * idle); time.Now().Before(end); {
			ask(t, c, r, addr, "/")
			time.Sleep(sweep / 5)
		}
		ask(t, c, r, addr, path)
		if took := closedWithin(t, c, r, 10*time.Second); took < idle || took > idle+time.Second {
			t.Errorf("after GET %s, an idle connection was closed after %s, want between %s and %s", path, took, idle, idle+time.Second)
		}
	}
}

// The sweep runs only while connections are open: an agent no page is
// connected to does not wake for it.
func TestSweepEndsWithTheLastConnection(t *testing.T) {
	shortLimits(t, 5*time.Second, 20*time.Millisecond)
	table := newConnTable(time.Minute)
	defer table.stop()
	sweeping := func() bool {
		table.mu.Lock()
		defer table.mu.Unlock()
		return table.sweeping
	}
	_, server := tcpPair(t)
	oc := &ownedConn{Conn: server, accepted: time.Now(), release: func() {}}
	table.track(oc, http.StateNew)
	if !sweeping() {
		t.Fatal("no sweep with a connection open")
	}
	table.track(oc, http.StateClosed)
	testutil.WaitFor(t, 2*time.Second, 10*time.Millisecond, "the sweep to end", func() bool { return !sweeping() })
	table.track(oc, http.StateNew)
	if !sweeping() {
		t.Fatal("the next connection started no sweep")
	}
}

// Many kept-alive connections asking at once, with a sweep far more often
// than any of them pauses: no connection within its limits is closed, and
// the race detector sees the phases and the sweep share the table safely.
func TestSweepLeavesConnectionsWithinTheirLimits(t *testing.T) {
	const idle = 300 * time.Millisecond
	shortLimits(t, 200*time.Millisecond, time.Millisecond)
	addr := serveLimited(t, idle, 0)
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			for j := range 40 {
				time.Sleep(time.Duration((i*7+j*13)%50) * time.Millisecond) // well within idle
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Errorf("a connection within its limits: %v", err)
		}
	}
}
