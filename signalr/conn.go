package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Conn is one SignalR connection, from negotiate until abort, idle
// removal or Server.Close.
type Conn struct {
	s      *Server
	id     string
	token  string
	origin string
	hubs   []string // subscribed in connectionData, as configured
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	ended    bool
	active   int       // requests in flight
	lastSeen time.Time // when the last request began or ended
	invoking int       // invocations in progress
	lastID   uint64    // number of the last message queued
	queue    []message // undelivered messages, oldest first
	gen      uint64    // counts polls and streams; a newer one ends an older
	changed  chan struct{}
}

// message is a queued server-to-client message.
type message struct {
	id  uint64
	raw json.RawMessage
}

// ID is the connection id negotiate gave the client.
func (c *Conn) ID() string { return c.id }

// Origin is the Origin header of the negotiate request ("" when it had
// none), for hub methods to name the requesting site.
func (c *Conn) Origin() string { return c.origin }

// Send queues a call of the client-side hub method hub.method with args,
// delivered by the next poll (or the event stream). The client must have
// subscribed to hub (hubProxy.on before start).
func (c *Conn) Send(hub, method string, args ...any) error {
	name := ""
	for _, h := range c.hubs {
		if strings.EqualFold(h, hub) {
			name = h
		}
	}
	if name == "" {
		return fmt.Errorf("%w %q", ErrNotSubscribed, hub)
	}
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(clientInvocation{H: name, M: method, A: args})
	if err != nil {
		return fmt.Errorf("signalr send %s.%s: encode arguments: %w", name, method, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return ErrConnClosed
	}
	if len(c.queue) >= maxQueue {
		return ErrQueueFull
	}
	c.lastID++
	c.queue = append(c.queue, message{id: c.lastID, raw: raw})
	c.signalLocked()
	return nil
}

// signalLocked wakes every poll and stream waiting on c; c.mu is held.
func (c *Conn) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// end ends the connection: polls and streams return, invocations are
// cancelled and Send fails.
func (c *Conn) end() {
	c.mu.Lock()
	if !c.ended {
		c.ended = true
		c.queue = nil
		c.signalLocked()
	}
	c.mu.Unlock()
	c.cancel()
}

// enter records a request beginning; false means the connection has ended.
func (c *Conn) enter(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.active++
	c.lastSeen = now
	return true
}

// leave records a request ending.
func (c *Conn) leave(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active--
	c.lastSeen = now
}

// idleSince reports when the last request began or ended, and whether
// none is in flight.
func (c *Conn) idleSince() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeen, c.active == 0
}

// beginInvoke counts an invocation in; false means too many are running.
func (c *Conn) beginInvoke() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.invoking >= maxInvocations {
		return false
	}
	c.invoking++
	return true
}

// endInvoke counts an invocation out.
func (c *Conn) endInvoke() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invoking--
}

// ack drops the messages up to cursor, which the client has.
func (c *Conn) ack(cursor uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackLocked(cursor)
}

func (c *Conn) ackLocked(cursor uint64) {
	i := 0
	for i < len(c.queue) && c.queue[i].id <= cursor {
		i++
	}
	if i > 0 {
		c.queue = append(c.queue[:0:0], c.queue[i:]...)
	}
}

// beginPoll starts a poll or stream from cursor: it acknowledges the
// messages up to it and ends any older poll or stream. It returns the
// poll's generation, for pending.
func (c *Conn) beginPoll(cursor uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackLocked(cursor)
	c.gen++
	c.signalLocked()
	return c.gen
}

// pending returns the messages after cursor and the cursor that follows
// them. When there are none it returns a channel closed at the next
// change; over reports that the connection has ended or a newer poll has
// taken over, and then msgs is empty.
func (c *Conn) pending(gen, cursor uint64) (msgs []json.RawMessage, last uint64, changed <-chan struct{}, over bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs = []json.RawMessage{}
	last = min(cursor, c.lastID)
	if c.ended || gen != c.gen {
		return msgs, last, nil, true
	}
	for _, m := range c.queue {
		if m.id > cursor {
			msgs = append(msgs, m.raw)
			last = m.id
		}
	}
	if len(msgs) == 0 {
		changed = c.changed
	}
	return msgs, last, changed, false
}

// queued returns every undelivered message and the cursor after them, for
// a longPolling connect.
func (c *Conn) queued() ([]json.RawMessage, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := make([]json.RawMessage, 0, len(c.queue))
	for _, m := range c.queue {
		msgs = append(msgs, m.raw)
	}
	return msgs, c.lastID
}
