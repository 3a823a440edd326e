package server

import (
	"sync"
	"time"
)

// Ports that fail are skipped by later allocations and moves for
// failedFor, and at most maxFailed of them are remembered at once.
const (
	failedFor = 10 * time.Minute
	maxFailed = 4096
)

// failedPorts remembers ports that could not be used: a test-bind failed,
// another user held the port, or an agent could not bind it.
type failedPorts struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	until map[int]time.Time
}

func newFailedPorts(ttl time.Duration, max int, now func() time.Time) *failedPorts {
	return &failedPorts{ttl: ttl, max: max, now: now, until: map[int]time.Time{}}
}

// add remembers port for the next ttl and reports whether it was not
// remembered already. When full it forgets the expired ports, then the one
// that would be forgotten soonest.
func (f *failedPorts) add(port int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	t, known := f.until[port]
	fresh := !known || !now.Before(t)
	if !known && len(f.until) >= f.max {
		f.pruneLocked(now)
	}
	f.until[port] = now.Add(f.ttl)
	return fresh
}

// pruneLocked makes room for one more port.
func (f *failedPorts) pruneLocked(now time.Time) {
	soonest, first := 0, true
	for p, t := range f.until {
		if !now.Before(t) {
			delete(f.until, p)
			continue
		}
		if first || t.Before(f.until[soonest]) {
			soonest, first = p, false
		}
	}
	if len(f.until) >= f.max && !first {
		delete(f.until, soonest)
	}
}

// has reports whether port failed within the last ttl.
func (f *failedPorts) has(port int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.until[port]
	if ok && !f.now().Before(t) {
		delete(f.until, port)
		return false
	}
	return ok
}

// len returns how many ports are remembered now.
func (f *failedPorts) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	n := 0
	for _, t := range f.until {
		if now.Before(t) {
			n++
		}
	}
	return n
}
