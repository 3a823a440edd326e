package httpapi

import (
	"sync"
	"unicode/utf8"

	"github.com/cardbridge/cardbridge/localhttp"
)

// refusedKept is how many of the latest refusals the status page shows.
const refusedKept = 10

// refusedFieldMax bounds each text a caller sent that a refusal keeps
// (Origin, Host, path), so that a hostile caller cannot fill the page.
const refusedFieldMax = 200

// refusedRing keeps the latest requests and connections the Guard turned
// away, for the status page: what asked, and why it was refused. It holds
// what the Guard reports (see localhttp.Refusal), which carries no query
// string, cookie, body or PIN.
type refusedRing struct {
	mu    sync.Mutex
	buf   [refusedKept]localhttp.Refusal
	next  int    // where the next one goes
	total uint64 // refusals since the agent started
}

// add keeps r, forgetting the oldest when full.
func (q *refusedRing) add(r localhttp.Refusal) {
	r.Origin = clip(r.Origin)
	r.Host = clip(r.Host)
	r.Path = clip(r.Path)
	r.Method = clip(r.Method)
	r.Reason = clip(r.Reason)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf[q.next] = r
	q.next = (q.next + 1) % len(q.buf)
	q.total++
}

// latest returns the refusals kept, newest first, and how many there were
// in all.
func (q *refusedRing) latest() ([]localhttp.Refusal, uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(q.total, uint64(len(q.buf)))
	out := make([]localhttp.Refusal, 0, n)
	for i := 1; i <= int(n); i++ {
		out = append(out, q.buf[(q.next-i+len(q.buf))%len(q.buf)])
	}
	return out, q.total
}

// clip cuts s to refusedFieldMax bytes, on a character boundary, marking
// the cut with "…".
func clip(s string) string {
	if len(s) <= refusedFieldMax {
		return s
	}
	cut := refusedFieldMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
