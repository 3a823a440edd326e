package localhttp

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/peercred"
)

// refusalSink collects what a Guard's OnRefuse is told.
type refusalSink struct {
	mu   sync.Mutex
	seen []Refusal
	more chan struct{}
}

func newRefusalSink() *refusalSink { return &refusalSink{more: make(chan struct{}, 100)} }

func (s *refusalSink) add(r Refusal) {
	s.mu.Lock()
	s.seen = append(s.seen, r)
	s.mu.Unlock()
	s.more <- struct{}{}
}

// next waits for the next refusal.
func (s *refusalSink) next(t *testing.T) Refusal {
	t.Helper()
	select {
	case <-s.more:
	case <-time.After(5 * time.Second):
		t.Fatal("OnRefuse was not called")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[len(s.seen)-1]
}

// TestOnRefuseIsToldEveryRefusal: a request from a page not on the
// DomainList, one addressed to another Host, and another user's connection
// (turned away on connect) each reach OnRefuse with what was refused and
// why, without the query string; beyond the log's burst they still do.
func TestOnRefuseIsToldEveryRefusal(t *testing.T) {
	list, bad := domainlist.Parse([]byte(testDomains))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	sink := newRefusalSink()
	g := NewGuard(GuardOptions{
		Self: &self,
		PeerOwner: func(c net.Conn) (peercred.User, error) {
			if strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.2:") {
				return other, nil
			}
			return self, nil
		},
		Domains:  func() DomainInfo { return DomainInfo{List: list, Source: "test"} },
		Logger:   zerolog.Nop(),
		OnRefuse: sink.add,
	})
	addr := serveAdmit(t, g)
	get := func(path string, hdr map[string]string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	for i := 0; i < refusalBurst+2; i++ {
		if st := get("/api/card?secret=1", map[string]string{"Origin": "https://evil.example"}); st != 403 {
			t.Fatalf("evil origin: %d", st)
		}
		r := sink.next(t)
		if r.Code != api.CodeOriginNotAllowed || r.Origin != "https://evil.example" || r.Path != "/api/card" || r.Method != "GET" ||
			r.Caller != self.ID || !strings.Contains(r.Reason, "not on the DomainList") || time.Since(r.Time) > time.Minute {
			t.Fatalf("refusal %d of an evil origin: %+v", i, r)
		}
	}

	if st := get("/", map[string]string{"Host": "rebind.example:80"}); st != http.StatusMisdirectedRequest {
		t.Fatalf("bad Host: %d", st)
	}
	if r := sink.next(t); r.Code != api.CodeHostNotAllowed || r.Host != "rebind.example:80" || r.Origin != "" {
		t.Errorf("refusal of a bad Host: %+v", r)
	}

	if st := get("/api/readers", map[string]string{"Origin": "https://my.esr.nhs.uk"}); st != 200 {
		t.Fatalf("allowed origin: %d", st)
	}
	select {
	case <-sink.more:
		t.Errorf("an allowed request was reported refused: %+v", sink.seen[len(sink.seen)-1])
	default:
	}

	stranger := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	c, err := stranger.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /api/card?x=y HTTP/1.1\r\nHost: "+addr+"\r\nOrigin: https://my.esr.nhs.uk\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := answerOf(t, c, 5*time.Second); !strings.Contains(got, "WRONG_USER") {
		t.Fatalf("stranger: %q", got)
	}
	r := sink.next(t)
	if r.Code != api.CodeWrongUser || r.Caller != other.ID || r.Origin != "https://my.esr.nhs.uk" || r.Path != "/api/card" || r.Host != addr ||
		!strings.Contains(r.Reason, "turned away on connect") {
		t.Errorf("refusal of another user: %+v", r)
	}
}

func TestRequestOf(t *testing.T) {
	for _, tc := range []struct {
		head string
		want Refusal
	}{
		{"GET /a?b=c HTTP/1.1\r\nHost: localhost:1\r\norigin:  https://x.example \r\n\r\nbody", Refusal{Method: "GET", Path: "/a", Host: "localhost:1", Origin: "https://x.example"}},
		{"", Refusal{}},
		{"garbage", Refusal{}},
		{"GET / HTTP/1.1\r\nOrigin: https://cut", Refusal{Method: "GET", Path: "/", Origin: "https://cut"}},
		{"POST /x HTTP/1.1\r\nX-Origin: no\r\n\r\nOrigin: body", Refusal{Method: "POST", Path: "/x"}},
	} {
		if got := requestOf([]byte(tc.head)); got != tc.want {
			t.Errorf("requestOf(%q) = %+v, want %+v", tc.head, got, tc.want)
		}
	}
}
