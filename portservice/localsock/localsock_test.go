package localsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// wait bounds every wait in these tests.
const wait = 10 * time.Second

// listenT listens on a fresh path and closes the listener when the test ends.
func listenT(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := testPath(t)
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// acceptT accepts one connection within the bound and closes it when the test ends.
func acceptT(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(wait):
		l.Close()
		t.Fatal("Accept: no connection")
		return nil
	}
}

// dialT dials path within the bound and closes the connection when the test ends.
func dialT(t *testing.T, path string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pair returns the server and client ends of a fresh connection, framed.
func pair(t *testing.T) (server, client *Conn) {
	t.Helper()
	l, path := listenT(t)
	c := dialT(t, path)
	s := acceptT(t, l)
	return NewConn(s), NewConn(c)
}

type msg struct {
	Op    string   `json:"op"`
	Port  int      `json:"port,omitempty"`
	Lines []string `json:"lines,omitempty"`
}

func TestSendRecv(t *testing.T) {
	s, c := pair(t)
	big := strings.Repeat("x", MaxMessage-len(`{"op":""}`))
	sent := []msg{
		{Op: "register", Port: 55001},
		{Op: "domains", Lines: []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk", "line\nwith newline"}},
		{Op: big}, // exactly MaxMessage bytes
		{Op: "bye"},
	}
	go func() {
		for _, m := range sent {
			if err := c.Send(m, wait); err != nil {
				t.Errorf("Send: %v", err)
				return
			}
		}
	}()
	for i, want := range sent {
		var got msg
		if err := s.Recv(&got, wait); err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		if got.Op != want.Op || got.Port != want.Port || strings.Join(got.Lines, "|") != strings.Join(want.Lines, "|") {
			t.Fatalf("Recv %d: got %+.60v, want %+.60v", i, got, want)
		}
	}
	// And the other way.
	if err := s.Send(map[string]int{"port": 55002}, wait); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var got msg
	if err := c.Recv(&got, wait); err != nil || got.Port != 55002 {
		t.Fatalf("Recv = %+v, %v; want port 55002", got, err)
	}
}

func TestSendRejects(t *testing.T) {
	s, c := pair(t)
	tests := []struct {
		name string
		v    any
		want error
	}{
		{"array", []int{1, 2}, ErrBadMessage},
		{"string", "hello", ErrBadMessage},
		{"nil map", map[string]int(nil), ErrBadMessage},
		{"too long", msg{Op: strings.Repeat("x", MaxMessage)}, ErrTooLong},
		{"unencodable", map[string]any{"f": func() {}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Send(tt.v, wait)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Send = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "localsock: send: ") {
				t.Errorf("error %q does not name the operation", err)
			}
		})
	}
	// Nothing was written: the next message is the first the server sees.
	if err := c.Send(msg{Op: "ok"}, wait); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var got msg
	if err := s.Recv(&got, wait); err != nil || got.Op != "ok" {
		t.Fatalf("Recv = %+v, %v; want op ok", got, err)
	}
}

func TestRecvBadMessages(t *testing.T) {
	tests := []struct {
		name, line, says string
	}{
		{"truncated", `{"op":`, "invalid json"},
		{"garbage", `{op: register}`, "invalid json"},
		{"trailing", `{"op":"a"} {"op":"b"}`, "invalid json"},
		{"array", `[1,2]`, "not a json object"},
		{"number", `42`, "not a json object"},
		{"null", `null`, "not a json object"},
		{"blank", ``, "not a json object"},
		{"wrong type", `{"port":"55000"}`, "does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := pair(t)
			if _, err := c.NetConn().Write([]byte(tt.line + "\n")); err != nil {
				t.Fatal(err)
			}
			var got msg
			err := s.Recv(&got, wait)
			if !errors.Is(err, ErrBadMessage) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Recv = %v, want ErrBadMessage saying %q", err, tt.says)
			}
			if !strings.HasPrefix(err.Error(), "localsock: recv: ") {
				t.Errorf("error %q does not name the operation", err)
			}
		})
	}
}

func TestRecvTooLong(t *testing.T) {
	s, c := pair(t)
	// A 70 KiB line, then far more without a newline: Recv must give up after
	// MaxMessage+1 bytes, not read on.
	line := []byte(`{"op":"` + strings.Repeat("x", 70<<10) + `"}` + "\n")
	flood := []byte(strings.Repeat("y", 1<<20))
	written := make(chan error, 1)
	go func() {
		if _, err := c.NetConn().Write(line); err != nil {
			written <- err
			return
		}
		for range 64 {
			if _, err := c.NetConn().Write(flood); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got msg
	err := s.Recv(&got, wait)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("Recv = %v, want ErrTooLong", err)
	}
	if !strings.Contains(err.Error(), "more than 65536 bytes") {
		t.Errorf("error %q does not say what the limit is", err)
	}
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("Recv allocated %d bytes", n)
	if n > 2*MaxMessage {
		t.Errorf("Recv allocated %d bytes, want at most %d", n, 2*MaxMessage)
	}
	// The stream cannot be resynchronised: the error sticks.
	if err2 := s.Recv(&got, wait); !errors.Is(err2, ErrTooLong) {
		t.Errorf("second Recv = %v, want ErrTooLong again", err2)
	}
	// The writer is still blocked on 64 MiB that nobody reads; closing ends it.
	s.Close()
	select {
	case err := <-written:
		if err == nil {
			t.Error("all 64 MiB were written: something read them")
		}
	case <-time.After(wait):
		t.Fatal("writer did not stop after close")
	}
}

func TestRecvTimeout(t *testing.T) {
	s, c := pair(t)
	var got msg
	start := time.Now()
	err := s.Recv(&got, 50*time.Millisecond)
	if el := time.Since(start); el > time.Second {
		t.Errorf("Recv with a 50ms timeout took %v", el)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv = %v, want a timeout", err)
	}

	// Half a message, a timeout, then the rest: nothing is lost.
	if _, err := c.NetConn().Write([]byte(`{"op":"reg`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Recv(&got, 50*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv of half a message = %v, want a timeout", err)
	}
	if _, err := c.NetConn().Write([]byte(`ister"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	// No deadline now (0): the message is there.
	if err := s.Recv(&got, 0); err != nil || got.Op != "register" {
		t.Fatalf("Recv = %+v, %v; want op register", got, err)
	}
}

func TestRecvEOF(t *testing.T) {
	t.Run("between messages", func(t *testing.T) {
		s, c := pair(t)
		if err := c.Send(msg{Op: "last"}, wait); err != nil {
			t.Fatal(err)
		}
		c.Close()
		var got msg
		if err := s.Recv(&got, wait); err != nil || got.Op != "last" {
			t.Fatalf("Recv = %+v, %v; want op last", got, err)
		}
		if err := s.Recv(&got, wait); !errors.Is(err, io.EOF) {
			t.Fatalf("Recv after close = %v, want io.EOF", err)
		}
	})
	t.Run("mid message", func(t *testing.T) {
		s, c := pair(t)
		if _, err := c.NetConn().Write([]byte(`{"op":"la`)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		var got msg
		if err := s.Recv(&got, wait); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Recv = %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

func TestConcurrentSendRecv(t *testing.T) {
	s, c := pair(t)
	const n = 300
	var wg sync.WaitGroup
	// Each end sends from one goroutine and receives on another, at once.
	for _, ends := range [][2]*Conn{{s, c}, {c, s}} {
		from, to := ends[0], ends[1]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := from.Send(msg{Op: "m", Port: i, Lines: []string{strings.Repeat("z", i*7)}}, wait); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range n {
				var got msg
				if err := to.Recv(&got, wait); err != nil {
					t.Errorf("Recv %d: %v", i, err)
					return
				}
				if got.Port != i || len(got.Lines) != 1 || len(got.Lines[0]) != i*7 {
					t.Errorf("Recv %d: got port %d", i, got.Port)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * wait):
		s.Close()
		c.Close()
		t.Fatal("exchange did not finish")
	}
}

func TestPipeSDDL(t *testing.T) {
	// Authenticated Users may read and write but not create pipe instances
	// (FILE_CREATE_PIPE_INSTANCE, the same bit as FILE_APPEND_DATA).
	const (
		fileReadData   = 0x1
		fileWriteData  = 0x2
		createInstance = 0x4
		synchronize    = 0x100000
	)
	i := strings.Index(pipeSDDL, ";;;AU)")
	if i < 0 {
		t.Fatalf("%s has no ACE for Authenticated Users", pipeSDDL)
	}
	ace := pipeSDDL[strings.LastIndex(pipeSDDL[:i], "(")+1 : i]
	if !strings.HasPrefix(ace, "A;;0x") {
		t.Fatalf("AU ACE %q is not an allow ACE with a numeric mask", ace)
	}
	mask, err := strconv.ParseUint(strings.TrimPrefix(ace, "A;;0x"), 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	if mask&createInstance != 0 {
		t.Errorf("AU mask %#x grants FILE_CREATE_PIPE_INSTANCE", mask)
	}
	if want := uint64(fileReadData | fileWriteData | synchronize); mask&want != want {
		t.Errorf("AU mask %#x lacks read, write or synchronize", mask)
	}
	for _, s := range []string{"D:P", "(A;;GA;;;SY)", "(A;;GA;;;BA)"} {
		if !strings.Contains(pipeSDDL, s) {
			t.Errorf("%s lacks %s", pipeSDDL, s)
		}
	}
}

func TestCloseWakesAccept(t *testing.T) {
	l, _ := listenT(t)
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Accept start waiting
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Accept still waiting after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener = %v, want net.ErrClosed", err)
	}
}

func TestManyClients(t *testing.T) {
	l, path := listenT(t)
	const n = 20
	// Clients all dial at once, before and while the server accepts.
	errc := make(chan error, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			nc, err := Dial(ctx, path)
			if err != nil {
				errc <- err
				return
			}
			c := NewConn(nc)
			defer c.Close()
			if err := c.Send(msg{Op: "hello", Port: i}, wait); err != nil {
				errc <- err
				return
			}
			var got msg
			if err := c.Recv(&got, wait); err != nil {
				errc <- err
				return
			}
			if got.Port != i {
				errc <- fmt.Errorf("client %d got the answer for %d", i, got.Port)
				return
			}
			errc <- nil
		}()
	}
	for range n {
		c := NewConn(acceptT(t, l))
		go func() {
			var m msg
			if err := c.Recv(&m, wait); err != nil {
				return
			}
			c.Send(m, wait)
		}()
	}
	for range n {
		select {
		case err := <-errc:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(2 * wait):
			t.Fatal("clients did not finish")
		}
	}
}

func TestWait(t *testing.T) {
	s, c := pair(t)
	// Nothing sent: Wait times out like Recv.
	if err := s.Wait(50 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Wait on an idle connection = %v, want a timeout", err)
	}
	// Half a message is not enough; the rest completes it and nothing is lost.
	if _, err := c.NetConn().Write([]byte(`{"op":"reg`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(50 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Wait on half a message = %v, want a timeout", err)
	}
	if _, err := c.NetConn().Write([]byte(`ister"}` + "\n" + `{"op":"second"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(wait); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	// Waiting again does not consume the message either.
	if err := s.Wait(wait); err != nil {
		t.Fatalf("second Wait = %v", err)
	}
	var got msg
	if err := s.Recv(&got, 0); err != nil || got.Op != "register" {
		t.Fatalf("Recv after Wait = %+v, %v; want op register", got, err)
	}
	if err := s.Wait(wait); err != nil {
		t.Fatalf("Wait for the buffered second message = %v", err)
	}
	if err := s.Recv(&got, 0); err != nil || got.Op != "second" {
		t.Fatalf("Recv = %+v, %v; want op second", got, err)
	}
	// The peer's close ends Wait with the error Recv then gives.
	c.Close()
	if err := s.Wait(wait); !errors.Is(err, io.EOF) {
		t.Fatalf("Wait after close = %v, want io.EOF", err)
	}
	if err := s.Recv(&got, wait); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after close = %v, want io.EOF", err)
	}
}

// TestDialNoService: nothing at the path, or a listener gone, is
// ErrNoService, which the agent tells from a service that answers badly.
func TestDialNoService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if c, err := Dial(ctx, testPath(t)); !errors.Is(err, ErrNoService) {
		if c != nil {
			c.Close()
		}
		t.Errorf("Dial with nothing at the path = %v, want ErrNoService", err)
	}
	l, path := listenT(t)
	l.Close()
	if c, err := Dial(ctx, path); !errors.Is(err, ErrNoService) {
		if c != nil {
			c.Close()
		}
		t.Errorf("Dial after the listener closed = %v, want ErrNoService", err)
	}
}
