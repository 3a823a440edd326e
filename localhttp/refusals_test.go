package localhttp

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

// flood sends n requests from caller with a bad Origin through a Guard
// whose refusal log allows burst lines an interval, and returns the log.
func flood(t *testing.T, caller peercred.User, n, burst int, every time.Duration) (*Guard, *testutil.Buffer) {
	t.Helper()
	self := peercred.User{ID: "uid:1000"}
	logs := &testutil.Buffer{}
	g := NewGuard(GuardOptions{
		Self:      &self,
		PeerOwner: func(net.Conn) (peercred.User, error) { return caller, nil },
		Logger:    zerolog.New(logs),
	})
	g.refusals.burst, g.refusals.every = burst, every
	h := g.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a refused request reached the handler") }))
	for i := 0; i < n; i++ {
		// A connection per request, as a flood of new connections is.
		ctx := g.ConnContext(context.Background(), addrConn{local: tcpAddr("127.0.0.1:43485")})
		r := httptest.NewRequestWithContext(ctx, "GET", "http://localhost:43485/api/card", nil)
		r.Host = "localhost:43485"
		r.Header.Set("Origin", "https://evil.example")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	return g, logs
}

// endInterval writes the summary lines due, as the end of the interval
// would.
func endInterval(l *refusalLog) {
	l.mu.Lock()
	var keys []refusalKey
	for k, c := range l.keys {
		if c.summary != nil && c.summary.Stop() {
			keys = append(keys, k)
		}
	}
	l.mu.Unlock()
	for _, k := range keys {
		l.flush(k)
	}
}

// TestRefusalFloodKeepsTheLog refuses 20,000 requests from another user and
// from a page with a bad Origin: each writes its first refusals in full and
// then one summary line with the count, instead of 20,000 lines.
func TestRefusalFloodKeepsTheLog(t *testing.T) {
	const n = 20000
	_, fullBuf := flood(t, peercred.User{ID: "uid:1001"}, 1000, math.MaxInt, time.Minute)
	full := fullBuf.String()
	for _, caller := range []peercred.User{{ID: "uid:1001"}, {ID: "uid:1000"}} {
		g, buf := flood(t, caller, n, 5, time.Hour)
		endInterval(g.refusals)
		logs := buf.String()
		if got := strings.Count(logs, `"message":"refused request"`); got != 5 {
			t.Errorf("%s: %d refusals logged in full, want 5", caller.ID, got)
		}
		if !strings.Contains(logs, `"caller":"`+caller.ID+`"`) || !strings.Contains(logs, `"refused":19995`) {
			t.Errorf("%s: no summary of the 19,995 others:\n%s", caller.ID, logs)
		}
		t.Logf("%s: %d refused requests wrote %d lines, %d bytes (without the limit: %d lines, about %d bytes)",
			caller.ID, n, strings.Count(logs, "\n"), len(logs), n, len(full)*n/1000)
	}
}

// TestRefusalSummaryTimer: the summary line comes by itself at the end of
// the interval.
func TestRefusalSummaryTimer(t *testing.T) {
	_, buf := flood(t, peercred.User{ID: "uid:1001"}, 10, 5, 100*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), `"refused":5`) {
		if time.Now().After(deadline) {
			t.Fatalf("no summary line 5 s after the interval's end:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefusalLogIntervals: a new interval logs in full again; keys are
// separate; the number of keys is bounded.
func TestRefusalLogIntervals(t *testing.T) {
	var logs testutil.Buffer
	now := time.Unix(1_800_000_000, 0)
	l := newRefusalLog(zerolog.New(&logs))
	l.burst, l.every, l.now = 2, time.Hour, func() time.Time { return now }
	a, b := refusalKey{"uid:1", "WRONG_USER"}, refusalKey{"uid:1", "ORIGIN_NOT_ALLOWED"}
	got := []bool{l.allow(a), l.allow(a), l.allow(a), l.allow(b)}
	if want := []bool{true, true, false, true}; !equalBools(got, want) {
		t.Errorf("first interval: %v, want %v", got, want)
	}
	l.flush(a) // the interval's end
	if !strings.Contains(logs.String(), `"refused":1`) {
		t.Errorf("summary: %s", logs.String())
	}
	now = now.Add(2 * time.Hour)
	if !l.allow(a) || !l.allow(b) {
		t.Error("a new interval did not log in full")
	}
	for i := 0; i < 3*maxRefusalKeys; i++ {
		l.allow(refusalKey{caller: "uid:" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + time.Duration(i).String(), code: "WRONG_USER"})
	}
	l.mu.Lock()
	n := len(l.keys)
	l.mu.Unlock()
	if n > maxRefusalKeys+1 {
		t.Errorf("%d keys tracked, want at most %d", n, maxRefusalKeys+1)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
