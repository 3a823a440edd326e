package pcsc

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/pubsub"
)

// EventType says what changed.
type EventType uint8

// The event types, named on the wire as String gives.
const (
	ReaderAdded EventType = iota + 1
	ReaderRemoved
	CardInserted
	CardRemoved
	Unavailable // the PC/SC service stopped or cannot be reached; every card and reader was first reported removed
	Available   // the PC/SC service is reachable (again)
)

var eventNames = [...]string{
	ReaderAdded:   "reader-added",
	ReaderRemoved: "reader-removed",
	CardInserted:  "card-inserted",
	CardRemoved:   "card-removed",
	Unavailable:   "pcsc-unavailable",
	Available:     "pcsc-available",
}

// String gives the event's wire name, e.g. "card-inserted".
func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return "unknown"
}

// Event is one change seen by the Monitor.
type Event struct {
	Seq    uint64 // increases by one with every event of this Monitor
	Type   EventType
	Reader string // the reader, for reader and card events
	ATR    []byte // the card's ATR, for CardInserted
	Time   time.Time
}

// Reader is the state of one reader.
type Reader struct {
	Name        string
	CardPresent bool
	ATR         []byte // the present card's ATR, when CardPresent
}

// State is a consistent picture of all readers.
type State struct {
	Seq       uint64 // the Seq of the last event reflected in this State
	Available bool   // whether the PC/SC service is reachable
	Readers   []Reader
}

// Card returns the first reader holding a card.
func (s State) Card() (Reader, bool) {
	for _, r := range s.Readers {
		if r.CardPresent {
			return r, true
		}
	}
	return Reader{}, false
}

// ErrOverflow is a subscription's Err when it was dropped because its
// reader did not keep up. Subscribe again for a fresh State.
var ErrOverflow = errors.New("pcsc: subscriber fell behind and was dropped")

// Subscription delivers events to one subscriber. C receives every event
// after the State returned with the subscription; it is closed by Close, at
// the end of Run, or when the subscriber falls behind. Err says why: nil
// after Close or Run's end, ErrOverflow when dropped.
type Subscription = pubsub.Subscription[Event]

// MonitorOptions tunes a Monitor. The zero value is ready to use.
type MonitorOptions struct {
	Logger *zerolog.Logger // nil: no logging
	// MinBackoff and MaxBackoff bound the wait between attempts to reach a
	// stopped PC/SC service. Defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration

	establish establishFunc // nil: the platform's PC/SC
	now       func() time.Time
}

// Monitor watches readers and cards on its own PC/SC context and tells
// subscribers about every change. Create it with NewMonitor and drive it with
// Run; State and Subscribe may be called from any goroutine.
type Monitor struct {
	opt MonitorOptions
	log zerolog.Logger

	mu    sync.Mutex
	state State // readers sorted by name
	subs  *pubsub.Hub[Event]

	// known is what the watch loop believes about each reader. Only Run's
	// goroutine uses it; it outlives one PC/SC context so that a quick
	// service restart produces no spurious events.
	known map[string]*watched
}

// NewMonitor returns a Monitor that has not started watching.
func NewMonitor(opt MonitorOptions) *Monitor {
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 100 * time.Millisecond
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(5*time.Second, opt.MinBackoff)
	}
	if opt.establish == nil {
		opt.establish = establish
	}
	if opt.now == nil {
		opt.now = time.Now
	}
	m := &Monitor{opt: opt, log: zerolog.Nop(), subs: pubsub.New[Event](ErrOverflow), known: map[string]*watched{}}
	if opt.Logger != nil {
		m.log = opt.Logger.With().Str("component", "pcsc-monitor").Logger()
	}
	return m
}

// State returns a copy of the current state.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copyStateLocked()
}

func (m *Monitor) copyStateLocked() State {
	s := m.state
	s.Readers = slices.Clone(s.Readers)
	return s
}

// Subscribe returns the current state and a subscription that receives every
// later event, buffering up to buffer of them (at least 1). A subscriber
// that lets the buffer fill is dropped: C is closed and Err is ErrOverflow.
func (m *Monitor) Subscribe(buffer int) (State, *Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copyStateLocked(), m.subs.Subscribe(buffer)
}

// emit applies ev to the state and sends it to every subscriber.
func (m *Monitor) emit(typ EventType, reader string, atr []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state.Seq++
	ev := Event{Seq: m.state.Seq, Type: typ, Reader: reader, ATR: atr, Time: m.opt.now()}
	st := &m.state
	switch typ {
	case Available:
		st.Available = true
	case Unavailable:
		st.Available = false
		st.Readers = nil
	case ReaderAdded:
		i, found := slices.BinarySearchFunc(st.Readers, reader, func(r Reader, name string) int { return compareStrings(r.Name, name) })
		if !found {
			st.Readers = slices.Insert(st.Readers, i, Reader{Name: reader})
		}
	case ReaderRemoved:
		st.Readers = slices.DeleteFunc(st.Readers, func(r Reader) bool { return r.Name == reader })
	case CardInserted, CardRemoved:
		for i := range st.Readers {
			if st.Readers[i].Name == reader {
				st.Readers[i].CardPresent = typ == CardInserted
				st.Readers[i].ATR = atr
			}
		}
	}
	m.log.Debug().Uint64("seq", ev.Seq).Str("event", typ.String()).Str("reader", reader).Msg("pcsc event")
	if n := m.subs.Publish(ev); n > 0 {
		m.log.Warn().Str("event", typ.String()).Int("subscribers", n).Msg("dropping a subscriber that fell behind")
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Run watches until ctx is done, then closes every subscription and returns
// ctx's error. It re-establishes the PC/SC context with backoff whenever the
// service stops, reporting Unavailable and later Available.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.subs.CloseAll()
	backoff := m.opt.MinBackoff
	for {
		c, err := m.opt.establish()
		if err == nil {
			if !m.State().Available {
				m.log.Info().Msg("PC/SC service available")
				m.emit(Available, "", nil)
			}
			started := time.Now()
			err = m.watch(ctx, c)
			if rerr := c.Release(); rerr != nil && !errors.Is(rerr, ErrUnavailable) {
				m.log.Debug().Err(rerr).Msg("releasing PC/SC context")
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.log.Warn().Err(err).Msg("lost the PC/SC context, reconnecting")
			if time.Since(started) > time.Second {
				// It had been working: try again at once, as a service
				// restart is often quick.
				backoff = m.opt.MinBackoff
				continue
			}
			// It fails as soon as it starts: wait before the next try.
		} else if st := m.State(); st.Available || st.Seq == 0 {
			m.log.Warn().Err(err).Msg("PC/SC service unavailable")
			m.forgetReaders()
			m.emit(Unavailable, "", nil)
		}
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, m.opt.MaxBackoff)
	}
}

// sleep waits between d/2 and d, with jitter so that many agents on one host
// do not retry in step. It reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// forgetReaders reports every known card and reader as gone, so that a
// subscriber following only card or reader events stays right when the
// service goes away.
func (m *Monitor) forgetReaders() {
	for _, name := range sortedKeys(m.known) {
		if m.known[name].present {
			m.emit(CardRemoved, name, nil)
		}
		m.emit(ReaderRemoved, name, nil)
	}
	clear(m.known)
}

// watched is what watch believes about one reader.
type watched struct {
	state   uint32 // last event state, counter bits included, CHANGED cleared
	present bool
}

// watch follows readers and cards on c until ctx is done or c fails.
func (m *Monitor) watch(ctx context.Context, c sysContext) error {
	// Cancel is the one call pcsc-lite allows from another goroutine. Repeat
	// it until watch returns, in case it lands between two GetStatusChange calls.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			_ = c.Cancel()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()

	readers := m.known
	if err := m.syncReaders(c, readers); err != nil {
		return err
	}
	pnp := readerState{Reader: pnpReader, Current: stateUnaware}
	timeout := time.Duration(-1)
	if !pnpSupported {
		timeout = pollInterval
	}
	var states []readerState
	spin := spinGuard{}
	for ctx.Err() == nil {
		states = states[:0]
		if pnpSupported {
			states = append(states, pnp)
		}
		names := sortedKeys(readers)
		for _, n := range names {
			states = append(states, readerState{Reader: n, Current: readers[n].state})
		}
		if len(states) == 0 { // polling platform with no readers
			states = append(states, readerState{Reader: pnpReader, Current: stateIgnore})
		}
		err := c.GetStatusChange(states, timeout)
		switch {
		case err == nil:
		case errors.Is(err, errTimeout):
			if !pnpSupported {
				if err := m.syncReaders(c, readers); err != nil {
					return err
				}
			}
			continue
		case errors.Is(err, errCancelled):
			continue // ctx is checked by the loop
		case errors.Is(err, ErrNoReader):
			// A reader vanished between listing and waiting.
			if err := m.syncReaders(c, readers); err != nil {
				return err
			}
			spin.wait(ctx)
			continue
		default:
			return err
		}
		relist := false
		for _, st := range states {
			if st.Reader == pnpReader {
				if pnpSupported {
					if st.Event&stateChanged != 0 {
						relist = true
					}
					pnp.Current = st.Event &^ stateChanged
				}
				continue
			}
			w := readers[st.Reader]
			if w == nil {
				continue
			}
			if st.Event&(stateUnknown|stateIgnore) != 0 {
				relist = true // the reader is gone
				continue
			}
			w.state = st.Event &^ stateChanged
			m.updateCard(st.Reader, w, st.Event, st.ATR)
		}
		if relist {
			if err := m.syncReaders(c, readers); err != nil {
				return err
			}
		}
		spin.wait(ctx)
	}
	return ctx.Err()
}

// updateCard emits card events when a reader's presence flag changed.
func (m *Monitor) updateCard(reader string, w *watched, event uint32, atr []byte) {
	present := event&statePresent != 0
	if present == w.present {
		return
	}
	w.present = present
	if present {
		m.emit(CardInserted, reader, bytes.Clone(atr))
	} else {
		m.emit(CardRemoved, reader, nil)
	}
}

// syncReaders lists the readers, emits reader events for the differences
// and learns the state of new readers without waiting.
func (m *Monitor) syncReaders(c sysContext, readers map[string]*watched) error {
	names, err := c.ListReaders()
	if err != nil {
		return err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == pnpReader })
	for _, old := range sortedKeys(readers) {
		if !slices.Contains(names, old) {
			if readers[old].present {
				m.emit(CardRemoved, old, nil)
			}
			delete(readers, old)
			m.emit(ReaderRemoved, old, nil)
		}
	}
	var fresh []readerState
	for _, n := range names {
		if readers[n] == nil {
			fresh = append(fresh, readerState{Reader: n, Current: stateUnaware})
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	// A zero timeout returns at once with every reader's current state.
	err = c.GetStatusChange(fresh, 0)
	if err != nil && !errors.Is(err, errTimeout) {
		if errors.Is(err, ErrNoReader) {
			return m.syncReaders(c, readers) // gone again already; list afresh
		}
		return err
	}
	slices.SortFunc(fresh, func(a, b readerState) int { return compareStrings(a.Reader, b.Reader) })
	for _, st := range fresh {
		w := &watched{state: st.Event &^ stateChanged}
		readers[st.Reader] = w
		m.emit(ReaderAdded, st.Reader, nil)
		m.updateCard(st.Reader, w, st.Event, st.ATR)
	}
	return nil
}

func sortedKeys(m map[string]*watched) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// spinGuard keeps a misbehaving PC/SC service from making the watch loop
// spin: past 100 wake-ups in one second it sleeps between them.
type spinGuard struct {
	start time.Time
	n     int
}

func (g *spinGuard) wait(ctx context.Context) {
	now := time.Now()
	if now.Sub(g.start) > time.Second {
		g.start, g.n = now, 0
	}
	g.n++
	if g.n <= 100 {
		return
	}
	sleep(ctx, 100*time.Millisecond)
}
