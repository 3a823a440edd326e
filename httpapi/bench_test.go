package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
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
	list, _ := domainlist.Parse([]byte(testDomains))
	core := agent.New(agent.Options{})
	core.Apply(pcsc.Event{Type: pcsc.Available})
	core.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	s := New(Options{
		Backend:   core,
		Domains:   func() localhttp.DomainInfo { return localhttp.DomainInfo{List: list} },
		Self:      me,
		PeerOwner: func(net.Conn) (peercred.User, error) { return me, nil },
		Logger:    zerolog.Nop(),
	})
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
