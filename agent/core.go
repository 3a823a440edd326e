// Package agent is the heart of `cardbridge agent`. Its Core follows the
// PC/SC monitor, reads each inserted card's identity once (package
// cardinfo), and is the one owner of the state pages see: every reader, the
// card in it, its identity and its encoded JSON, under one mutex. Every
// change is published as an Event; a subscriber gets a snapshot first, then
// every later event, and is dropped if it falls behind.
//
// The Core also runs signing sessions: OpenSigner asks the user for the PIN
// through Options.PINPrompt, has the card verify it and returns the
// CardSigner that signs, until the caller closes it.
//
// The HTTP layer (package httpapi) serves this state and turns events into
// WebSocket frames; it reaches a card only through a CardSigner.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/internal/pubsub"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// Options configures a Core.
type Options struct {
	Monitor *pcsc.Monitor // required; the Core runs it
	Logger  zerolog.Logger
	// ReadIdentity reads a card's identity; nil reads it through PC/SC.
	ReadIdentity func(ctx context.Context, reader string) (*piv.Identity, error)
	// CardWait bounds how long Card waits for an identity being read
	// (3 s when zero).
	CardWait time.Duration
	// PINPrompt asks the user for the card PIN when a page asks to sign;
	// nil means the agent cannot sign (OpenSigner returns ErrNoPINPrompt).
	PINPrompt PINPrompt
}

// Core keeps the agent's view of readers and cards. It is the one owner of
// that state: every change comes from the monitor (Apply) or from an
// identity read, is made under mu and is published as an event under mu, so
// that a snapshot and the events after it always fit together.
type Core struct {
	opt    Options
	log    zerolog.Logger
	events *pubsub.Hub[*Event]

	mu        sync.Mutex
	available bool
	readers   []slot          // sorted by name
	seq       uint64          // the Seq of the last event
	changed   chan struct{}   // closed and replaced with every event
	ctx       context.Context // ends identity reads; set by Run

	signLocks cardLocks
	// gate counts signing sessions under way (signing) and, once
	// StopSigning has set stopped, refuses new ones.
	gate struct {
		sync.Mutex
		signing int
		stopped bool
	}
}

// slot is what the Core knows of one reader.
type slot struct {
	name string
	card *insertion // nil while the reader is empty
}

// insertion is one card in a reader, from its insertion to its removal. It
// is new with every insertion, so that an identity read that ends after its
// card left, or was replaced, is recognised and dropped.
type insertion struct {
	atr     []byte
	id      *piv.Identity // nil until read, and when it could not be
	pending bool          // the identity is being read
	card    *api.Card     // what pages see; replaced, never modified
	json    []byte        // card encoded for GET /api/card, newline included
}

// setCard records what pages see of the card.
func (in *insertion) setCard(card api.Card) {
	in.card = &card
	b, _ := json.Marshal(card)
	in.json = append(b, '\n')
}

// New returns a Core; call Run to start it.
func New(opt Options) *Core {
	if opt.ReadIdentity == nil {
		opt.ReadIdentity = cardinfo.ReadIdentity
	}
	if opt.CardWait <= 0 {
		opt.CardWait = 3 * time.Second
	}
	return &Core{
		opt:     opt,
		log:     opt.Logger.With().Str("component", "agent").Logger(),
		events:  pubsub.New[*Event](ErrSlowSubscriber),
		changed: make(chan struct{}),
		ctx:     context.Background(),
	}
}

// identityTimeout bounds one identity read.
const identityTimeout = 15 * time.Second

// Run runs the monitor and follows it until ctx ends; then it closes every
// subscription.
func (c *Core) Run(ctx context.Context) error {
	defer c.events.CloseAll()
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
	var card *api.Card
	switch ev.Type {
	case pcsc.Available:
		c.available = true
	case pcsc.Unavailable:
		c.available = false
		c.readers = nil
	case pcsc.ReaderAdded:
		if i, found := c.index(ev.Reader); !found {
			c.readers = slices.Insert(c.readers, i, slot{name: ev.Reader})
		}
	case pcsc.ReaderRemoved:
		if i, found := c.index(ev.Reader); found {
			c.readers = slices.Delete(c.readers, i, i+1)
		}
	case pcsc.CardRemoved:
		if i, found := c.index(ev.Reader); found {
			c.readers[i].card = nil
		}
	case pcsc.CardInserted:
		in := &insertion{atr: ev.ATR, pending: true}
		in.setCard(cardinfo.NewCard(ev.Reader, ev.ATR, nil, nil))
		card = in.card
		// The monitor reports a reader before any card in it.
		if i, found := c.index(ev.Reader); found {
			c.readers[i].card = in
			go c.identify(c.ctx, ev.Reader, in)
		}
	}
	c.publishLocked(ev.Type.String(), ev.Reader, card)
}

// index finds reader in c.readers, or where it would go.
func (c *Core) index(reader string) (int, bool) {
	return slices.BinarySearchFunc(c.readers, reader, func(s slot, name string) int { return strings.Compare(s.name, name) })
}

// insertionLocked is the card in reader, or nil.
func (c *Core) insertionLocked(reader string) *insertion {
	if i, found := c.index(reader); found {
		return c.readers[i].card
	}
	return nil
}

// identify reads the identity of a newly inserted card and publishes it
// with card-updated, unless the card has gone meanwhile.
func (c *Core) identify(ctx context.Context, reader string, in *insertion) {
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	id, err := c.readWithRetry(ctx, reader)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.insertionLocked(reader) != in {
		return // removed or replaced
	}
	if err != nil {
		c.log.Warn().Str("reader", reader).Str("code", string(cardinfo.CodeOf(err))).Err(err).Msg("cannot read the card's identity")
	} else {
		in.id = id
		c.log.Info().Str("reader", reader).Str("uuid", id.UUID).Bool("signing_certificate", id.SigningCertificate != nil).Msg("card identified")
		if id.SigningError != nil {
			c.log.Warn().Str("reader", reader).Err(id.SigningError).Msg("cannot read the card's digital signature certificate (slot 9C): signing with it is refused")
		}
	}
	in.pending = false
	in.setCard(cardinfo.NewCard(reader, in.atr, id, err))
	c.publishLocked(TypeCardUpdated, reader, in.card)
}

// resync brings the state in line with a monitor snapshot, publishing the
// differences as events. At start-up that announces everything present.
func (c *Core) resync(st pcsc.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	apply := c.applyLocked
	avail := c.available
	known := slices.Clone(c.readers)
	if st.Available && !avail {
		apply(pcsc.Event{Type: pcsc.Available})
	}
	present := map[string]pcsc.Reader{}
	for _, r := range st.Readers {
		present[r.Name] = r
	}
	for _, k := range known {
		r, ok := present[k.name]
		if k.card != nil && (!ok || !r.CardPresent) {
			apply(pcsc.Event{Type: pcsc.CardRemoved, Reader: k.name})
		}
		if !ok {
			apply(pcsc.Event{Type: pcsc.ReaderRemoved, Reader: k.name})
		}
	}
	for _, r := range st.Readers {
		if !slices.ContainsFunc(known, func(k slot) bool { return k.name == r.Name }) {
			apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: r.Name})
		}
		if r.CardPresent && c.insertionLocked(r.Name) == nil {
			apply(pcsc.Event{Type: pcsc.CardInserted, Reader: r.Name, ATR: r.ATR})
		}
	}
	if !st.Available && avail {
		apply(pcsc.Event{Type: pcsc.Unavailable})
	}
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

// Readers returns every reader and its card.
func (c *Core) Readers() api.Readers {
	c.mu.Lock()
	defer c.mu.Unlock()
	return api.Readers{Readers: c.readersLocked()}
}

// readersLocked is a deep enough copy of the readers for a caller to keep.
func (c *Core) readersLocked() []api.Reader {
	out := make([]api.Reader, len(c.readers))
	for i, r := range c.readers {
		out[i] = api.Reader{Name: r.name, CardPresent: r.card != nil}
		if r.card != nil {
			card := *r.card.card
			out[i].Card = &card
		}
	}
	return out
}

// Available reports whether the PC/SC service is reachable.
func (c *Core) Available() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.available
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
		c.mu.Lock()
		var in *insertion
		for _, r := range c.readers {
			if r.card != nil {
				in = r.card
				break
			}
		}
		var card api.Card
		var enc []byte
		pending := false
		if in != nil {
			card, enc, pending = *in.card, in.json, in.pending
		}
		changed := c.changed
		c.mu.Unlock()
		if in == nil {
			return api.NoCard, noCardJSON
		}
		if !pending {
			return card, enc
		}
		if timeout == nil {
			t := time.NewTimer(c.opt.CardWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return card, enc
		case <-ctx.Done():
			return card, enc
		}
	}
}
