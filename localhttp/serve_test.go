package localhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:80"} {
		if lns, err := Listen(addr); err == nil {
			for _, l := range lns {
				l.Close()
			}
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	lns, err := Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lns {
		if !l.Addr().(*net.TCPAddr).IP.IsLoopback() {
			t.Errorf("listening on %v", l.Addr())
		}
		l.Close()
	}
}

// TestOptionsAsteriskIsGuarded sends "OPTIONS *", which net/http would
// answer itself before any handler: it must reach the Guard, be refused to
// another user as everything is, refused to the agent's own user too, and
// logged.
func TestOptionsAsteriskIsGuarded(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	for _, tc := range []struct {
		name   string
		caller peercred.User
		status string
		code   api.Code
	}{
		{"another user", peercred.User{ID: "uid:1001"}, "403", api.CodeWrongUser},
		{"the agent's user", self, "400", api.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testutil.Buffer
			g := NewGuard(GuardOptions{
				Self:      &self,
				PeerOwner: func(net.Conn) (peercred.User, error) { return tc.caller, nil },
				Logger:    zerolog.New(&logs),
			})
			reached := false
			h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
			lns, err := Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Serve(ctx, h, ServeOptions{}, lns...) }()
			defer func() { cancel(); <-done }()

			addr := lns[0].Addr().String()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "OPTIONS * HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := strconv.Itoa(resp.StatusCode); got != tc.status || !strings.Contains(string(body), string(tc.code)) || reached {
				t.Errorf("OPTIONS *: %s %s (handler reached: %v), want %s %s", got, body, reached, tc.status, tc.code)
			}
			if !strings.Contains(logs.String(), `"message":"refused`) {
				t.Errorf("the refusal was not logged: %s", logs.String())
			}
		})
	}
}

// TestListenNamesTheHolder: "localhost:P" with either family's loopback
// address held by another socket is an error naming the holder, not a
// quiet IPv4-only (or IPv6-only) listener.
func TestListenNamesTheHolder(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Skip("no socket owners on this platform:", err)
	}
	for _, family := range []string{"[::1]", "127.0.0.1"} {
		t.Run(family, func(t *testing.T) {
			held, err := net.Listen("tcp", family+":0")
			if err != nil {
				t.Skip("no", family, "here:", err)
			}
			defer held.Close()
			port := held.Addr().(*net.TCPAddr).Port
			lns, err := Listen("localhost:" + strconv.Itoa(port))
			for _, l := range lns {
				l.Close()
			}
			if !errors.Is(err, ErrPortHeld) {
				t.Fatalf("Listen with %s:%d held: %v, want ErrPortHeld", family, port, err)
			}
			// The holder is named where the OS tells who listens.
			if _, ferr := peercred.FindListener(netip.MustParseAddrPort(held.Addr().String())); ferr == nil && !strings.Contains(err.Error(), me.ID) {
				t.Fatalf("Listen with %s:%d held: %v, want it to name %s", family, port, err, me.ID)
			}
			t.Log(err)
		})
	}
}

// TestStopDoesNotWaitForSilentConnections: when serving ends, a connection
// that has sent no request is closed after silentPatience rather than
// holding the stop (net/http's Shutdown would wait up to 5 s for it, and a
// restarting service answers nobody meanwhile), while a request already
// being answered still gets its whole answer.
func TestStopDoesNotWaitForSilentConnections(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	var logs testutil.Buffer
	g := NewGuard(GuardOptions{
		Self:      &self,
		PeerOwner: func(net.Conn) (peercred.User, error) { return self, nil },
		Logger:    zerolog.New(&logs),
	})
	entered, released := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(released) })
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-released
		_, _ = io.WriteString(w, "answered")
	})
	srv := serveGuarded(t, g, h)
	addr := srv.addr
	defer release() // before the test's end waits for Serve

	silent, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	busy, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_ = busy.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(busy, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	select {
	case <-entered: // the busy request is being answered, so both are accepted
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the handler")
	}

	stopped := time.Now()
	srv.cancel()
	// The silent connection is closed once the grace is over.
	if got := answerOf(t, silent, 3*time.Second); got != "" {
		t.Errorf("the silent connection was answered %q", got)
	}
	if took := time.Since(stopped); took >= 3*time.Second {
		t.Fatalf("the silent connection was still open %s after the stop began", took)
	}
	// The request under way is answered in full, and then serving ends.
	release()
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the request under way lost its answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "answered" {
		t.Errorf("the request under way was answered %d %q", resp.StatusCode, body)
	}
	select {
	case <-srv.done:
	case <-time.After(3 * time.Second):
		t.Fatalf("serving had not ended %s after the stop began", time.Since(stopped))
	}
	if !strings.Contains(logs.String(), "sent no request") {
		t.Errorf("closing the silent connection was not logged: %s", logs.String())
	}
}

// TestReceived: received tells a connection whose bytes have come but not
// been read from one that has sent nothing, and takes nothing.
func TestReceived(t *testing.T) {
	client, server := tcpPair(t)
	if received(server) {
		t.Error("received = true before anything was sent")
	}
	const req = "GET / HTTP/1.1\r\n"
	if _, err := io.WriteString(client, req); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, server)
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(req))
	if _, err := io.ReadFull(server, got); err != nil || string(got) != req {
		t.Fatalf("after received, the connection reads %q (%v), want %q", got, err, req)
	}
	if received(server) {
		t.Error("received = true once everything was read")
	}
	client.Close()
	if _, err := server.Read(got); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the client closed: %v, want EOF", err)
	}
	if received(server) {
		t.Error("received = true for a connection the client closed")
	}
}

// tcpPair is both ends of a loopback TCP connection, closed when the test
// ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// waitReceived waits (up to 5 s) until bytes sent to c have reached it.
func waitReceived(t *testing.T, c net.Conn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !received(c); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("bytes sent 5 s ago have not reached the connection")
		}
	}
}

// TestStopKeepsRequestsNotYetRead: at a stop, a connection whose request
// has come but that the server has not read yet (on a busy host, before
// its goroutine ran) is not taken for a silent one and closed unanswered;
// the connection that has sent nothing is closed.
func TestStopKeepsRequestsNotYetRead(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al := newAdmitListener(ln, NewGuard(GuardOptions{Self: &self, PeerOwner: func(net.Conn) (peercred.User, error) { return self, nil }}), 8)
	defer al.Close()
	silent := newConnTable(time.Minute)
	defer silent.stop()
	dial := func() (client net.Conn, server *ownedConn) {
		client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		c, err := al.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		silent.track(c, http.StateNew)
		return client, c.(*ownedConn)
	}
	asking, askingConn := dial()
	quiet, _ := dial()
	req := "GET / HTTP/1.1\r\nHost: " + ln.Addr().String() + "\r\n\r\n"
	if _, err := io.WriteString(asking, req); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, askingConn.Conn)

	// Both were accepted just now: both are given time.
	if closed, waiting := silent.closeSilent(time.Now()); closed != 0 || waiting != 2 {
		t.Errorf("closeSilent at once closed %d and left %d to ask, want 0 and 2", closed, waiting)
	}
	if closed, waiting := silent.closeSilent(time.Now().Add(silentPatience)); closed != 1 || waiting != 1 {
		t.Errorf("closeSilent %s later closed %d and left %d to ask, want 1 (the quiet one) and 1 (the one whose request has come)", silentPatience, closed, waiting)
	}
	_ = quiet.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := quiet.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("the quiet connection reads %v, want it closed", err)
	}
	_ = askingConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(req))
	if _, err := io.ReadFull(askingConn, got); err != nil || string(got) != req {
		t.Errorf("the asking connection reads %q (%v), want its request %q", got, err, req)
	}
}

// TestStopGivesNewConnectionsTheirTime: at a stop, a connection accepted
// just before it, whose request comes a moment later (its client not yet
// run, on a busy host), is answered; one that has sat silent for longer
// than silentPatience (a browser's connection opened ahead of need) is
// closed at the first look.
func TestStopGivesNewConnectionsTheirTime(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	g := NewGuard(GuardOptions{Self: &self, PeerOwner: func(net.Conn) (peercred.User, error) { return self, nil }})
	srv := serveGuarded(t, g, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	idle := dial()
	time.Sleep(silentPatience + 200*time.Millisecond)
	fresh := dial()
	time.Sleep(50 * time.Millisecond) // accepted

	stopped := time.Now()
	srv.cancel()
	if got := answerOf(t, idle, 3*time.Second); got != "" {
		t.Errorf("the connection silent since before the stop was answered %q", got)
	}
	if took := time.Since(stopped); took >= silentPatience {
		t.Errorf("the connection silent since before the stop was closed %s into the stop, want at the first look (%s)", took, silentGrace)
	}
	time.Sleep(time.Until(stopped.Add(3 * silentGrace)))
	_ = fresh.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(fresh, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", srv.addr)
	resp, err := http.ReadResponse(bufio.NewReader(fresh), nil)
	if err != nil {
		t.Fatalf("a connection accepted just before the stop, asking %s into it: %v", 3*silentGrace, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("the late request was answered %d %q", resp.StatusCode, body)
	}
}

// TestAdmitListenerClosesOnce: a stopping server closes its listeners
// before Shutdown closes them again; the second close is no error, which
// Shutdown would return as the stop's.
func TestAdmitListenerClosesOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al := newAdmitListener(ln, NewGuard(GuardOptions{}), 1)
	if err := al.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := al.Close(); err != nil {
		t.Errorf("Close again: %v, want nil", err)
	}
	if _, err := al.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

// TestServeBoundsOpenConnections: with MaxConns open, a further connection
// waits, unanswered, until one closes, and the stop does not wait for it.
func TestServeBoundsOpenConnections(t *testing.T) {
	self := peercred.User{ID: "uid:1000"}
	g := NewGuard(GuardOptions{Self: &self, PeerOwner: func(net.Conn) (peercred.User, error) { return self, nil }})
	srv := serveGuardedWith(t, g, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), ServeOptions{MaxConns: 2})
	ask := func(c net.Conn) (*bufio.Reader, error) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", srv.addr); err != nil {
			return nil, err
		}
		return bufio.NewReader(c), nil
	}
	answered := func(r *bufio.Reader) error {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
		if resp.StatusCode != 200 || string(body) != "ok" {
			return fmt.Errorf("answered %d %q", resp.StatusCode, body)
		}
		return nil
	}
	var open []net.Conn
	for range 3 {
		c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
	}
	for _, c := range open[:2] {
		r, err := ask(c)
		if err == nil {
			err = answered(r)
		}
		if err != nil {
			t.Fatalf("a connection within the limit: %v", err)
		}
	}
	third, err := ask(open[2])
	if err != nil {
		t.Fatal(err)
	}
	_ = open[2].SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := third.Peek(1); err == nil {
		t.Fatal("a third connection was answered while two were open, with MaxConns 2")
	}
	open[0].Close()
	_ = open[2].SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := answered(third); err != nil {
		t.Fatalf("the third connection, once one closed: %v", err)
	}

	// At the limit again (the second and third open), a fourth waits in
	// the queue; the stop does not wait for it.
	fourth, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	srv.cancel()
	select {
	case <-srv.done:
	case <-time.After(5 * time.Second):
		t.Fatal("serving did not end within 5 s of the stop, at the connection limit")
	}
}

// A request's body has bodyReadTimeout to arrive, whether the request is
// let through (the handler's read fails) or refused (net/http discards the
// body after the answer); the connection is closed either way rather than
// held by a client that stopped sending. Requests without a body have no
// read deadline while they are answered: a slow handler (a PIN prompt) is
// answered in full on a connection that stays open, and so is a request
// whose body came in full.
func TestBodyReadTimeout(t *testing.T) {
	d := bodyReadTimeout
	t.Cleanup(func() { bodyReadTimeout = d }) // after Serve has returned
	bodyReadTimeout = 200 * time.Millisecond
	self := peercred.User{ID: "uid:1000"}
	g := NewGuard(GuardOptions{
		Self:      &self,
		PeerOwner: func(net.Conn) (peercred.User, error) { return self, nil },
		Logger:    zerolog.Nop(),
	})
	readErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/stalls" {
			readErr <- err
			return
		}
		time.Sleep(3 * bodyReadTimeout) // longer than a body may take
		if err == nil {
			err = r.Context().Err()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "answered")
	})
	addr := serveGuarded(t, g, h).addr
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// 10 of the 100 bytes promised, then nothing.
	stalled := "Host: " + addr + "\r\nContent-Length: 100\r\n\r\n0123456789"

	t.Run("let through", func(t *testing.T) {
		c := dial()
		fmt.Fprintf(c, "POST /stalls HTTP/1.1\r\n%s", stalled)
		select {
		case err := <-readErr:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the handler read the stalled body with %v, want a timeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the handler was still reading a stalled body after 5 s")
		}
		if got := answerOf(t, c, 3*time.Second); got != "" && !strings.Contains(got, "Connection: close") {
			t.Errorf("the connection was kept after its body stalled: %q", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		c := dial()
		start := time.Now()
		fmt.Fprintf(c, "POST /x HTTP/1.1\r\nOrigin: https://not-listed.example\r\n%s", stalled)
		got := answerOf(t, c, 5*time.Second) // until the server closes it
		if !strings.Contains(got, string(api.CodeOriginNotAllowed)) {
			t.Errorf("answered %q, want ORIGIN_NOT_ALLOWED", got)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the refused request's stalled body held its connection %s", took)
		}
	})
	t.Run("no body", func(t *testing.T) {
		c := dial()
		br := bufio.NewReader(c)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		for _, req := range []string{
			"GET /slow HTTP/1.1\r\nHost: " + addr + "\r\n\r\n",
			"POST /slow HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 2\r\n\r\n{}",
			"GET /slow HTTP/1.1\r\nHost: " + addr + "\r\n\r\n", // the same connection, still open
		} {
			_, _ = io.WriteString(c, req)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%q: %v", req, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "answered" || resp.Close {
				t.Fatalf("%q answered %d %q (close %v)", req, resp.StatusCode, body, resp.Close)
			}
		}
	})
}

// Listening on localhost:0 takes the port the OS chooses on 127.0.0.1 on
// [::1] too; when another socket holds that port on [::1], it chooses
// again rather than failing.
func TestListenAnyPortChoosesAgain(t *testing.T) {
	var held []net.Listener
	t.Cleanup(func() {
		listenTCP = net.Listen
		for _, l := range held {
			l.Close()
		}
	})
	listenTCP = func(network, addr string) (net.Listener, error) {
		if strings.HasPrefix(addr, "[::1]:") && len(held) < 2 {
			// Another program takes the port first, twice.
			l, err := net.Listen("tcp6", addr)
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			held = append(held, l)
		}
		return net.Listen(network, addr)
	}
	lns, err := Listen("localhost:0")
	if err != nil {
		t.Fatalf("Listen(localhost:0) with the chosen port held on [::1]: %v", err)
	}
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	if len(held) != 2 || len(lns) != 2 {
		t.Fatalf("held %d ports, listening on %d addresses; want 2 and 2", len(held), len(lns))
	}
	port := lns[0].Addr().(*net.TCPAddr).Port
	if lns[1].Addr().(*net.TCPAddr).Port != port {
		t.Errorf("listening on %v and %v, want one port", lns[0].Addr(), lns[1].Addr())
	}
	for _, l := range held {
		if l.Addr().(*net.TCPAddr).Port == port {
			t.Errorf("listening on port %d, which another socket holds on [::1]", port)
		}
	}
}
