package agent

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/api"
)

// Event types sent to pages, beyond pcsc's own.
const (
	TypeSnapshot = "snapshot"
	// TypeCardUpdated follows card-inserted once the card's identity (UUID,
	// certificate) has been read, or could not be: card-inserted is sent the
	// moment the card is seen, before the slower identity read.
	TypeCardUpdated = "card-updated"
)

// timeFormat is RFC 3339 with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Event is one message for subscribers, encoded once for all of them.
type Event struct {
	Seq  uint64
	Type string
	JSON []byte // the message as sent to pages
	// Wire is what the HTTP layer made of JSON once for every subscriber
	// (a prepared WebSocket frame), or nil.
	Wire any
}

// wireEvent is an event's JSON form.
type wireEvent struct {
	Type   string    `json:"type"`
	Seq    uint64    `json:"seq"`
	Time   string    `json:"time"`
	Reader string    `json:"reader,omitempty"`
	Card   *api.Card `json:"card,omitempty"`
}

// wireSnapshot is the first message on a subscription.
type wireSnapshot struct {
	Type          string       `json:"type"`
	Seq           uint64       `json:"seq"`
	Time          string       `json:"time"`
	PCSCAvailable bool         `json:"pcscAvailable"`
	Readers       []api.Reader `json:"readers"`
}

// ErrSlowSubscriber is a Subscription's Err when it was dropped because its
// reader fell behind.
var ErrSlowSubscriber = errors.New("subscriber fell behind and was dropped")

// Subscription delivers events to one subscriber, for example a WebSocket.
type Subscription struct {
	C <-chan *Event // closed by Close, by the hub's end, or when the subscriber falls behind

	c   chan *Event
	h   *hub
	err error
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.dropLocked(s, nil)
}

// Err says why C was closed: nil, or ErrSlowSubscriber.
func (s *Subscription) Err() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.err
}

// hub holds the state pages see and fans events out to subscribers.
type hub struct {
	prepare func([]byte) any
	now     func() time.Time

	mu        sync.Mutex
	seq       uint64
	available bool
	readers   []api.Reader      // sorted by name; Card set while present (never modified, only replaced)
	cardJSON  map[string][]byte // each present card encoded for GET /api/card
	pending   map[string]bool
	changed   chan struct{} // closed and replaced on every change
	subs      map[*Subscription]struct{}
}

func newHub(prepare func([]byte) any) *hub {
	return &hub{prepare: prepare, now: time.Now, pending: map[string]bool{}, cardJSON: map[string][]byte{}, changed: make(chan struct{}), subs: map[*Subscription]struct{}{}}
}

// publish applies a change to the state with fn (under the lock) and sends
// the event it describes to every subscriber.
func (h *hub) publish(typ, reader string, card *api.Card, fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fn != nil {
		fn()
	}
	h.seq++
	b, _ := json.Marshal(wireEvent{Type: typ, Seq: h.seq, Time: h.now().Format(timeFormat), Reader: reader, Card: card})
	ev := &Event{Seq: h.seq, Type: typ, JSON: b}
	if h.prepare != nil {
		ev.Wire = h.prepare(b)
	}
	close(h.changed)
	h.changed = make(chan struct{})
	for s := range h.subs {
		select {
		case s.c <- ev:
		default:
			h.dropLocked(s, ErrSlowSubscriber)
		}
	}
}

func (h *hub) dropLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.c)
}

// subscribe returns the snapshot event and a subscription to what follows.
func (h *hub) subscribe(buffer int) (*Event, *Subscription) {
	c := make(chan *Event, max(buffer, 1))
	s := &Subscription{C: c, c: c, h: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	b, _ := json.Marshal(wireSnapshot{Type: TypeSnapshot, Seq: h.seq, Time: h.now().Format(timeFormat), PCSCAvailable: h.available, Readers: h.readersLocked()})
	ev := &Event{Seq: h.seq, Type: TypeSnapshot, JSON: b}
	if h.prepare != nil {
		ev.Wire = h.prepare(b)
	}
	return ev, s
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.dropLocked(s, nil)
	}
}

// readersLocked is a deep enough copy of the readers for a caller to keep.
func (h *hub) readersLocked() []api.Reader {
	out := make([]api.Reader, len(h.readers))
	for i, r := range h.readers {
		out[i] = r
		if r.Card != nil {
			c := *r.Card
			out[i].Card = &c
		}
	}
	return out
}

func (h *hub) index(name string) (int, bool) {
	return slices.BinarySearchFunc(h.readers, name, func(r api.Reader, n string) int {
		switch {
		case r.Name < n:
			return -1
		case r.Name > n:
			return 1
		}
		return 0
	})
}

// The state changes, called under h.mu through publish.

func (h *hub) setAvailable(v bool) {
	h.available = v
	if !v {
		h.readers = nil
		clear(h.pending)
		clear(h.cardJSON)
	}
}

func (h *hub) addReader(name string) {
	if i, found := h.index(name); !found {
		h.readers = slices.Insert(h.readers, i, api.Reader{Name: name})
	}
}

func (h *hub) removeReader(name string) {
	if i, found := h.index(name); found {
		h.readers = slices.Delete(h.readers, i, i+1)
	}
	delete(h.pending, name)
	delete(h.cardJSON, name)
}

func (h *hub) setCard(name string, c *api.Card, pending bool) {
	i, found := h.index(name)
	if !found {
		return
	}
	h.readers[i].CardPresent = c != nil
	h.readers[i].Card = c
	if c == nil {
		delete(h.cardJSON, name)
	} else {
		b, _ := json.Marshal(c)
		h.cardJSON[name] = append(b, '\n')
	}
	if pending {
		h.pending[name] = true
	} else {
		delete(h.pending, name)
	}
}
