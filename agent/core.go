// Package agent is the heart of `cardbridge agent`: it follows the PC/SC
// monitor, reads each inserted card's identity once, keeps the state that
// pages see (readers, cards, UUIDs) and publishes every change as an event.
// The HTTP layer (package httpapi) serves this state; it never touches a
// card itself.
package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// Options configures a Core.
type Options struct {
	Monitor *pcsc.Monitor // required; the Core runs it
	Logger  zerolog.Logger
	// Prepare turns an event's JSON into what the transport sends (a
	// prepared WebSocket frame), once for all subscribers. Optional.
	Prepare func([]byte) any
	// ReadIdentity reads a card's identity; nil reads it through PC/SC.
	ReadIdentity func(ctx context.Context, reader string) (*piv.Identity, error)
	// CardWait bounds how long Card waits for an identity being read
	// (3 s when zero).
	CardWait time.Duration
}

// Core keeps the agent's view of readers and cards.
type Core struct {
	opt Options
	log zerolog.Logger
	hub *hub

	// mu serialises state changes from the monitor and from identity reads.
	mu    sync.Mutex
	cards map[string]*insertion // by reader
	// identities holds what was read from each present card.
	identities map[string]*piv.Identity
	gen        uint64

	signLocks cardLocks
	// gate counts signing sessions under way (signing) and, once
	// StopSigning has set stopped, refuses new ones.
	gate struct {
		sync.Mutex
		signing int
		stopped bool
	}
	ctx context.Context // ends identity reads; set by Run
}

// New returns a Core; call Run to start it.
func New(opt Options) *Core {
	if opt.ReadIdentity == nil {
		opt.ReadIdentity = ReadIdentity
	}
	if opt.CardWait <= 0 {
		opt.CardWait = 3 * time.Second
	}
	return &Core{
		opt:        opt,
		log:        opt.Logger.With().Str("component", "agent").Logger(),
		hub:        newHub(opt.Prepare),
		cards:      map[string]*insertion{},
		identities: map[string]*piv.Identity{},
		ctx:        context.Background(),
	}
}

// identityTimeout bounds one identity read.
const identityTimeout = 15 * time.Second

// ReadIdentity reads the identity of the card in reader on a PC/SC
// connection of its own, inside a transaction so that no other program's
// commands interleave with the chained GET DATA.
func ReadIdentity(ctx context.Context, reader string) (*piv.Identity, error) {
	conn, err := pcsc.Connect(ctx, reader)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var id *piv.Identity
	err = conn.Transaction(ctx, func() error {
		id, err = piv.ReadIdentity(ctx, conn)
		return err
	})
	return id, err
}

// insertion is what the Core knows of the card in one reader.
type insertion struct {
	gen uint64 // changes with every insertion, so late reads are recognised
	atr []byte
}

// Run runs the monitor and follows it until ctx ends; then it closes every
// subscription.
func (c *Core) Run(ctx context.Context) error {
	defer c.hub.closeAll()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	monDone := make(chan error, 1)
	go func() { monDone <- c.opt.Monitor.Run(ctx) }()
	for {
		st, sub := c.opt.Monitor.Subscribe(256)
		c.resync(st)
	events:
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					break events
				}
				c.Apply(ev)
			case err := <-monDone:
				return err
			}
		}
		if err := sub.Err(); !errors.Is(err, pcsc.ErrOverflow) {
			return <-monDone // the monitor ended
		}
		c.log.Warn().Msg("fell behind the PC/SC monitor; resynchronising")
	}
}

// Apply turns one monitor event into state and an event for pages. Run
// calls it for every event of the monitor; tests may call it directly.
func (c *Core) Apply(ev pcsc.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyLocked(ev)
}

func (c *Core) applyLocked(ev pcsc.Event) {
	h := c.hub
	typ := ev.Type.String()
	switch ev.Type {
	case pcsc.Available:
		h.publish(typ, "", nil, func() { h.setAvailable(true) })
	case pcsc.Unavailable:
		clear(c.cards)
		clear(c.identities)
		h.publish(typ, "", nil, func() { h.setAvailable(false) })
	case pcsc.ReaderAdded:
		h.publish(typ, ev.Reader, nil, func() { h.addReader(ev.Reader) })
	case pcsc.ReaderRemoved:
		delete(c.cards, ev.Reader)
		delete(c.identities, ev.Reader)
		h.publish(typ, ev.Reader, nil, func() { h.removeReader(ev.Reader) })
	case pcsc.CardRemoved:
		delete(c.cards, ev.Reader)
		delete(c.identities, ev.Reader)
		h.publish(typ, ev.Reader, nil, func() { h.setCard(ev.Reader, nil, false) })
	case pcsc.CardInserted:
		delete(c.identities, ev.Reader)
		c.gen++
		in := &insertion{gen: c.gen, atr: ev.ATR}
		c.cards[ev.Reader] = in
		card := NewCard(ev.Reader, ev.ATR, nil, nil)
		h.publish(typ, ev.Reader, &card, func() { h.setCard(ev.Reader, &card, true) })
		go c.identify(c.ctx, ev.Reader, in)
	}
}

// identify reads the identity of a newly inserted card and publishes it
// with card-updated, unless the card has gone meanwhile.
func (c *Core) identify(ctx context.Context, reader string, in *insertion) {
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	id, err := c.readWithRetry(ctx, reader)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cards[reader] != in {
		return // removed or replaced
	}
	if err != nil {
		c.log.Warn().Str("reader", reader).Str("code", string(CodeOf(err))).Err(err).Msg("cannot read the card's identity")
	} else {
		c.identities[reader] = id
		c.log.Info().Str("reader", reader).Str("uuid", id.UUID).Msg("card identified")
	}
	card := NewCard(reader, in.atr, id, err)
	c.hub.publish(TypeCardUpdated, reader, &card, func() { c.hub.setCard(reader, &card, false) })
}

// resync brings the state in line with a monitor snapshot, publishing the
// differences as events. At start-up that announces everything present.
func (c *Core) resync(st pcsc.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	apply := c.applyLocked
	c.hub.mu.Lock()
	avail := c.hub.available
	known := c.hub.readersLocked()
	c.hub.mu.Unlock()
	if st.Available && !avail {
		apply(pcsc.Event{Type: pcsc.Available})
	}
	present := map[string]pcsc.Reader{}
	for _, r := range st.Readers {
		present[r.Name] = r
	}
	for _, k := range known {
		r, ok := present[k.Name]
		if k.CardPresent && (!ok || !r.CardPresent) {
			apply(pcsc.Event{Type: pcsc.CardRemoved, Reader: k.Name})
		}
		if !ok {
			apply(pcsc.Event{Type: pcsc.ReaderRemoved, Reader: k.Name})
		}
	}
	for _, r := range st.Readers {
		if !containsReader(known, r.Name) {
			apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: r.Name})
		}
		if r.CardPresent && c.cards[r.Name] == nil {
			apply(pcsc.Event{Type: pcsc.CardInserted, Reader: r.Name, ATR: r.ATR})
		}
	}
	if !st.Available && avail {
		apply(pcsc.Event{Type: pcsc.Unavailable})
	}
}

func containsReader(rs []api.Reader, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// readWithRetry reads an identity, retrying a few times while another
// program holds the card or it is still being reset after insertion (pcscd
// powers a new card up, and sometimes cycles it, right after reporting it;
// a connect then can even say there is no card). A card that has really
// left is reported by the monitor, and identify drops the late answer.
func (c *Core) readWithRetry(ctx context.Context, reader string) (*piv.Identity, error) {
	var err error
	for attempt := range 4 {
		var id *piv.Identity
		id, err = c.opt.ReadIdentity(ctx, reader)
		if err == nil || !(errors.Is(err, pcsc.ErrCardBusy) || errors.Is(err, pcsc.ErrCardUnresponsive) || errors.Is(err, pcsc.ErrNoCard)) {
			return id, err
		}
		c.log.Debug().Err(err).Str("reader", reader).Int("attempt", attempt+1).Msg("retrying the identity read")
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		}
	}
	return nil, err
}

// Subscribe returns the snapshot and a subscription to every later event.
// A subscriber that lets buffer events pile up is dropped.
func (c *Core) Subscribe(buffer int) (*Event, *Subscription) { return c.hub.subscribe(buffer) }

// Readers returns every reader and its card.
func (c *Core) Readers() api.Readers {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	return api.Readers{Readers: c.hub.readersLocked()}
}

// Available reports whether the PC/SC service is reachable.
func (c *Core) Available() bool {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	return c.hub.available
}

// Card returns the card in the first reader holding one, or api.NoCard.
// While that card's identity is still being read it waits (up to the
// CardWait option, or until ctx ends) so the answer carries the UUID.
func (c *Core) Card(ctx context.Context) api.Card {
	card, _ := c.waitCard(ctx)
	return card
}

// CardJSON is Card encoded as the API sends it, newline included. The
// encoding is made once per change of card, not per call.
func (c *Core) CardJSON(ctx context.Context) []byte {
	_, b := c.waitCard(ctx)
	return b
}

// noCardJSON is api.NoCard encoded.
var noCardJSON = []byte("{\"present\":false}\n")

func (c *Core) waitCard(ctx context.Context) (api.Card, []byte) {
	var timeout <-chan time.Time
	for {
		c.hub.mu.Lock()
		var card *api.Card
		var enc []byte
		pending := false
		for _, r := range c.hub.readers {
			if r.Card != nil {
				card, enc, pending = r.Card, c.hub.cardJSON[r.Name], c.hub.pending[r.Name]
				break
			}
		}
		changed := c.hub.changed
		c.hub.mu.Unlock()
		if card == nil {
			return api.NoCard, noCardJSON
		}
		if !pending {
			return *card, enc
		}
		if timeout == nil {
			t := time.NewTimer(c.opt.CardWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return *card, enc
		case <-ctx.Done():
			return *card, enc
		}
	}
}
