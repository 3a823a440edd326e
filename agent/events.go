package agent

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/pubsub"
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

// Event is one message for subscribers, encoded once for all of them: every
// subscriber receives the same *Event, so a transport can keep what it
// makes of it (a WebSocket frame) for the others.
type Event struct {
	Seq  uint64
	Type string
	JSON []byte // the message as sent to pages: an api.Event
}

// ErrSlowSubscriber is a Subscription's Err when it was dropped because its
// reader fell behind.
var ErrSlowSubscriber = errors.New("subscriber fell behind and was dropped")

// Subscription delivers events to one subscriber, for example a WebSocket.
// C is closed by Close, when the Core's Run ends, or when the subscriber
// falls behind; Err then says nil, nil or ErrSlowSubscriber.
type Subscription = pubsub.Subscription[*Event]

// Subscribe returns the snapshot and a subscription to every later event.
// A subscriber that lets buffer events pile up is dropped.
func (c *Core) Subscribe(buffer int) (*Event, *Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	available := c.available
	b, _ := json.Marshal(api.Event{Type: TypeSnapshot, Seq: c.seq, Time: time.Now().Format(timeFormat), PCSCAvailable: &available, Readers: c.readersLocked()})
	return &Event{Seq: c.seq, Type: TypeSnapshot, JSON: b}, c.events.Subscribe(buffer)
}

// publishLocked sends the event for a change the caller has just made to
// the state, under c.mu, to every subscriber.
func (c *Core) publishLocked(typ, reader string, card *api.Card) {
	c.seq++
	b, _ := json.Marshal(api.Event{Type: typ, Seq: c.seq, Time: time.Now().Format(timeFormat), Reader: reader, Card: card})
	close(c.changed)
	c.changed = make(chan struct{})
	c.events.Publish(&Event{Seq: c.seq, Type: typ, JSON: b})
}
