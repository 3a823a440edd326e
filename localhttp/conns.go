package localhttp

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// A served connection's time limits. net/http would enforce them with read
// deadlines set and cleared on every request, three runtime timer changes
// per request on a kept-alive connection; a connTable enforces them with
// one sweep a second instead, and only while connections are open. A
// request costs it no timer and no clock reading: the sweep notes when it
// first sees each phase of a connection.
var (
	// headTimeout bounds a request head: from the accept for a
	// connection's first request, from its first bytes for a later one.
	headTimeout = 5 * time.Second
	// sweepEvery is how often the limits are looked at: a sweep first
	// sees a phase up to a sweep after it began, and closes it at the
	// first sweep its limit after that, so between its limit and its limit
	// plus two sweeps (never before).
	sweepEvery = time.Second
)

// What a connection is doing, as its table knows it: the low bits of
// ownedConn.state, above which it counts the connection's phases.
const (
	phaseNew  uint64 = iota // accepted; its first request has not been read
	phaseBusy               // a request is being answered
	phaseIdle               // kept alive between requests, nothing received
	phaseHead               // the next request has begun to arrive

	phaseBits = 3
)

// enter is the state after s that begins phase p.
func enter(s, p uint64) uint64 {
	return (s | phaseBits) + 1 | p
}

// connTable is a server's admitted connections, the one place that knows
// what each is doing. Its sweep closes those over their time limit: a
// request head that takes longer than headTimeout, a kept-alive
// connection idle longer than idle. At the stop it closes the connections
// that have sent nothing (closeSilent). Hijacked connections (WebSockets)
// leave it.
type connTable struct {
	head, idle time.Duration // the limits
	every      time.Duration // the sweep's period

	mu       sync.Mutex
	conns    map[*ownedConn]struct{}
	sweeping bool          // a sweep goroutine runs
	done     chan struct{} // closed by stop
	stopped  bool
	swept    sync.WaitGroup // the sweep goroutine
}

// newConnTable makes a table whose connections may be idle for idle.
func newConnTable(idle time.Duration) *connTable {
	return &connTable{head: headTimeout, idle: idle, every: sweepEvery, conns: map[*ownedConn]struct{}{}, done: make(chan struct{})}
}

// track is the server's ConnState hook.
func (t *connTable) track(c net.Conn, state http.ConnState) {
	oc, ok := c.(*ownedConn)
	if !ok {
		return
	}
	switch state {
	case http.StateNew:
		t.add(oc)
	case http.StateActive:
		// The hooks run on the connection's goroutine, one at a time.
		s := oc.state.Load()
		oc.state.Store(enter(s, phaseBusy))
	case http.StateIdle:
		s := oc.state.Load()
		oc.state.Store(enter(s, phaseIdle))
	case http.StateHijacked, http.StateClosed:
		t.mu.Lock()
		delete(t.conns, oc)
		t.mu.Unlock()
	}
}

// add tracks a newly accepted connection, and starts the sweep if none
// runs.
func (t *connTable) add(oc *ownedConn) {
	oc.table = t
	// The first request's head has its time from the accept.
	oc.seen, oc.seenAt = oc.state.Load(), oc.accepted
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns[oc] = struct{}{}
	if !t.sweeping && !t.stopped {
		t.sweeping = true
		t.swept.Go(t.sweep)
	}
}

// bytesCame notes that bytes have come on oc: on an idle connection, the
// next request's head has begun and has headTimeout to arrive.
func (t *connTable) bytesCame(oc *ownedConn) {
	if s := oc.state.Load(); s&phaseBits == phaseIdle {
		oc.state.CompareAndSwap(s, enter(s, phaseHead))
	}
}

// sweep closes the connections over their limit every sweepEvery, until
// no connection is left or the table stops.
func (t *connTable) sweep() {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
			if !t.closeOverdue(time.Now()) {
				return
			}
		}
	}
}

// closeOverdue closes the connections over their limit at now, and
// reports whether any connection is left to sweep (when not, the sweep
// ends, and the next connection starts another).
func (t *connTable) closeOverdue(now time.Time) (more bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for oc := range t.conns {
		if t.overdue(oc, now) {
			_ = oc.Close()
			delete(t.conns, oc)
		}
	}
	if len(t.conns) == 0 {
		t.sweeping = false
		return false
	}
	return true
}

// overdue reports whether oc is over its limit at now. A phase the sweep
// sees for the first time began since the last sweep; it is timed from a
// clock read after its state was, never before it began, so that no
// connection is closed before its limit.
func (t *connTable) overdue(oc *ownedConn, now time.Time) bool {
	s := oc.state.Load()
	if s != oc.seen {
		oc.seen, oc.seenAt = s, time.Now()
		return false
	}
	var limit time.Duration
	switch s & phaseBits {
	case phaseNew, phaseHead:
		limit = t.head
	case phaseIdle:
		limit = t.idle
	default:
		return false
	}
	return now.Sub(oc.seenAt) >= limit
}

// stop ends the sweep and waits for it; the server has stopped.
func (t *connTable) stop() {
	t.mu.Lock()
	if !t.stopped {
		t.stopped = true
		close(t.done)
	}
	t.mu.Unlock()
	t.swept.Wait()
}

// A stopping server looks at the connections that have sent no request
// every silentGrace. It closes those that have been open silentPatience
// (browsers send their request at once, bar the connections they open
// ahead of need, which they retry elsewhere when closed unused); one
// accepted just before the stop, whose client may not yet have run on a
// busy host, is given until then.
const (
	silentGrace    = 100 * time.Millisecond
	silentPatience = time.Second
)

// drain waits until every connection that has sent nothing has either
// sent a request or been closed as silent (closeSilent), or until ctx
// ends, and returns how many it closed.
func (t *connTable) drain(ctx context.Context) (closed int) {
	tick := time.NewTicker(silentGrace)
	defer tick.Stop()
	for {
		n, waiting := t.closeSilent(time.Now())
		closed += n
		if waiting == 0 {
			return closed
		}
		select {
		case <-ctx.Done():
			return closed
		case <-tick.C:
		}
	}
}

// closeSilent closes the connections that have sent nothing and have been
// open silentPatience at now, and returns how many it closed and how many
// it left to send their request. A connection whose request has come but
// not yet been read (its goroutine not yet run, on a busy host) is left
// whatever its age: it is about to be answered.
func (t *connTable) closeSilent(now time.Time) (closed, waiting int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for oc := range t.conns {
		if oc.state.Load()&phaseBits != phaseNew {
			continue
		}
		if received(oc.Conn) || now.Sub(oc.accepted) < silentPatience {
			waiting++
			continue
		}
		_ = oc.Close()
		delete(t.conns, oc)
		closed++
	}
	return closed, waiting
}
