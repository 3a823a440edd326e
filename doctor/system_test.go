package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func portOf(t *testing.T, addr net.Addr) int {
	t.Helper()
	return addr.(*net.TCPAddr).Port
}

func TestSystemLocal(t *testing.T) {
	s := NewSystem()
	var gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		if r.Header.Get("Origin") != "" {
			t.Errorf("doctor sent an Origin: %q", r.Header.Get("Origin"))
		}
		fmt.Fprint(w, `{"product":"cardbridge"}`)
	}))
	defer srv.Close()
	port := portOf(t, srv.Listener.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, body, err := s.Local(ctx, port, "/api/versioninfo")
	if err != nil || status != 200 || string(body) != `{"product":"cardbridge"}` {
		t.Errorf("Local = %d %q %v", status, body, err)
	}
	if gotHost != fmt.Sprintf("localhost:%d", port) {
		t.Errorf("Host %q, want localhost:%d as pages send", gotHost, port)
	}

	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := portOf(t, ln.Addr())
	ln.Close()
	if _, _, err := s.Local(ctx, closed, "/"); !errors.Is(err, ErrNotListening) {
		t.Errorf("closed port: %v, want ErrNotListening", err)
	}

	// Listening, never answering: bounded by the context.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	hctx, hcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer hcancel()
	start := time.Now()
	if _, _, err := s.Local(hctx, portOf(t, hung.Addr()), "/"); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("hung port: %v, want ErrNoAnswer", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a hung port took %v", d)
	}

	// Something that is not HTTP.
	junk, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	go func() {
		for {
			c, err := junk.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH\r\n"))
			c.Close()
		}
	}()
	if _, _, err := s.Local(ctx, portOf(t, junk.Addr()), "/"); err == nil || errors.Is(err, ErrNotListening) || errors.Is(err, ErrNoAnswer) {
		t.Errorf("a non-HTTP listener: %v, want another error", err)
	}
}

func TestSystemRemote(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, body, err := NewSystem().Remote(ctx, srv.URL+"/api/versioninfo")
	if err != nil || status != 503 || !strings.Contains(string(body), "maintenance") {
		t.Errorf("Remote = %d %q %v", status, body, err)
	}
}
