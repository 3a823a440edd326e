package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
)

// fakeConn is just enough of a net.Conn for connContext.
type fakeConn struct{ net.Conn }

func (fakeConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 43485} }

// BenchmarkGuardedCard is the per-request cost of GET /api/card from an
// allowed page on a kept-alive connection, without the network.
func BenchmarkGuardedCard(b *testing.B) {
	s := benchServer()
	ctx := s.guard.ConnContext(context.Background(), fakeConn{})
	req := httptest.NewRequest("GET", "http://localhost:43485/api/card", nil).WithContext(ctx)
	req.Header.Set("Origin", "https://my.esr.nhs.uk")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkBareCard is BenchmarkGuardedCard's reference: a bare handler
// answering the same bytes through the same recorder, so the difference
// between the two is what the guard, the routing and the headers cost.
func BenchmarkBareCard(b *testing.B) {
	body := []byte(`{"present":false,"reader":"R0"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/card", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})
	req := httptest.NewRequest("GET", "http://localhost:43485/api/card", nil)
	req.Header.Set("Origin", "https://my.esr.nhs.uk")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkServedCard is GET /api/card from an allowed page on one
// kept-alive loopback connection, through the whole server: the
// connection table, the Guard, the routes and net/http. Its client
// allocates nothing, so allocs/op and B/op are the server's alone.
// BenchmarkServedBare is its reference: a bare net/http server sending
// the bytes the agent sent (status, headers and body) down the same kind
// of connection, as scripts/bench's wrk comparison does; the difference
// between the two is what cardbridge adds to net/http's own work.
func BenchmarkServedCard(b *testing.B) {
	askOnOneConn(b, serveAgent(b), nil)
}

func BenchmarkServedBare(b *testing.B) {
	// What the agent answers, asked once through net/http's client.
	agentAddr := serveAgent(b)
	req, _ := http.NewRequest("GET", "http://"+agentAddr+"/api/card", nil)
	req.Header.Set("Origin", benchOrigin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("the agent answered %d (%v)", resp.StatusCode, err)
	}
	header := resp.Header.Clone()
	header.Del("Date") // net/http adds its own
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	askOnOneConn(b, ln.Addr().String(), body)
}

const benchOrigin = "https://my.esr.nhs.uk"

// benchServer is an agent's server with a reader and no card, for the
// test's own user, allowing the test DomainList's sites.
func benchServer() *Server {
	list, _ := domainlist.Parse([]byte(testDomains))
	core := agent.New(agent.Options{})
	core.Apply(pcsc.Event{Type: pcsc.Available})
	core.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	return New(Options{
		Backend:   core,
		Domains:   func() localhttp.DomainInfo { return localhttp.DomainInfo{List: list} },
		Self:      me,
		PeerOwner: func(net.Conn) (peercred.User, error) { return me, nil },
		Logger:    zerolog.Nop(),
	})
}

// serveAgent serves benchServer on a loopback port until the benchmark
// ends, and returns its address.
func serveAgent(b *testing.B) string {
	s := benchServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// askOnOneConn asks GET /api/card from an allowed page once per iteration
// on one kept-alive connection to addr, reading each answer whole. Every
// answer must be a 200 with a Content-Length; when want is set, the first
// body must be want.
func askOnOneConn(b *testing.B, addr string, want []byte) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_, port, _ := net.SplitHostPort(addr)
	req := []byte("GET /api/card HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nOrigin: " + benchOrigin + "\r\n\r\n")
	br := bufio.NewReaderSize(c, 8192)
	body := make([]byte, 8192)
	ask := func() []byte {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := -1
		for first := true; ; first = false {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				b.Fatalf("answer %q", line)
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil || n > len(body) {
					b.Fatalf("Content-Length %q", v)
				}
			}
			if len(line) == 2 { // the blank line ending the head
				break
			}
		}
		if n < 0 {
			b.Fatal("an answer without Content-Length")
		}
		if _, err := io.ReadFull(br, body[:n]); err != nil {
			b.Fatal(err)
		}
		return body[:n]
	}
	if got := ask(); want != nil && !bytes.Equal(got, want) {
		b.Fatalf("first answer %q, want %q", got, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		ask()
	}
}
