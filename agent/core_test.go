package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// fakeReads answers identity reads when the test releases them.
type fakeReads struct {
	release chan struct{}
	ids     map[string]*piv.Identity
}

func (f *fakeReads) read(ctx context.Context, reader string) (*piv.Identity, error) {
	select {
	case <-f.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if id := f.ids[reader]; id != nil {
		return id, nil
	}
	return nil, fmt.Errorf("read identity: no PIV application: %w", piv.ErrUnsupportedCard)
}

func newTestCore(t *testing.T) (*Core, *fakeReads) {
	f := &fakeReads{release: make(chan struct{}), ids: map[string]*piv.Identity{
		"R0": {UUID: "555123456789", Subject: "CN=555123456789, OU=People, O=nhs", NotAfter: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
	}}
	c := New(Options{ReadIdentity: f.read, CardWait: 2 * time.Second})
	return c, f
}

func next(t *testing.T, sub *Subscription) api.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription closed: %v", sub.Err())
		}
		var m api.Event
		if err := json.Unmarshal(ev.JSON, &m); err != nil {
			t.Fatal(err)
		}
		if m.Seq != ev.Seq {
			t.Errorf("JSON seq %d != event seq %d", m.Seq, ev.Seq)
		}
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("no event within 3s")
	}
	return api.Event{}
}

var millis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)

func TestEventsCarryStateChanges(t *testing.T) {
	c, f := newTestCore(t)
	c.Apply(pcsc.Event{Type: pcsc.Available})
	c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	snap, sub := c.Subscribe(16)
	var s api.Event
	if err := json.Unmarshal(snap.JSON, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != "snapshot" || s.Seq != 2 || s.PCSCAvailable == nil || !*s.PCSCAvailable || len(s.Readers) != 1 || s.Readers[0].Card != nil {
		t.Fatalf("snapshot = %s", snap.JSON)
	}

	c.Apply(pcsc.Event{Type: pcsc.CardInserted, Reader: "R0", ATR: []byte{0x3b, 0x01}})
	m := next(t, sub)
	if m.Type != "card-inserted" || m.Seq != 3 || m.Reader != "R0" || m.Card == nil || m.Card.ATR != "3B01" || m.Card.UUID != "" {
		t.Fatalf("card-inserted = %+v", m)
	}
	if !millis.MatchString(m.Time) {
		t.Errorf("time %q is not RFC 3339 with milliseconds", m.Time)
	}
	close(f.release)
	m = next(t, sub)
	if m.Type != "card-updated" || m.Seq != 4 || m.Card.UUID != "555123456789" || m.Card.NotAfter != "2030-01-02T03:04:05Z" {
		t.Fatalf("card-updated = %+v", m)
	}
	if got := c.Readers().Readers[0]; !got.CardPresent || got.Card.UUID != "555123456789" {
		t.Errorf("readers = %+v", got)
	}
	c.Apply(pcsc.Event{Type: pcsc.CardRemoved, Reader: "R0"})
	if m = next(t, sub); m.Type != "card-removed" || m.Card != nil {
		t.Errorf("card-removed = %+v", m)
	}
	if card := c.Card(context.Background()); card.Present {
		t.Errorf("Card() after removal = %+v", card)
	}
	c.Apply(pcsc.Event{Type: pcsc.Unavailable})
	if m = next(t, sub); m.Type != "pcsc-unavailable" {
		t.Errorf("got %+v", m)
	}
	if c.Available() || len(c.Readers().Readers) != 0 {
		t.Errorf("state while unavailable: %v %+v", c.Available(), c.Readers())
	}
}

func TestCardWaitsForIdentity(t *testing.T) {
	c, f := newTestCore(t)
	c.Apply(pcsc.Event{Type: pcsc.Available})
	c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	c.Apply(pcsc.Event{Type: pcsc.CardInserted, Reader: "R0", ATR: []byte{1}})
	go func() { time.Sleep(100 * time.Millisecond); close(f.release) }()
	card := c.Card(context.Background())
	if card.UUID != "555123456789" {
		t.Errorf("Card() = %+v, want it to wait for the UUID", card)
	}
}

func TestUnreadableCardReportsError(t *testing.T) {
	c, f := newTestCore(t)
	close(f.release)
	c.Apply(pcsc.Event{Type: pcsc.Available})
	c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R9"})
	c.Apply(pcsc.Event{Type: pcsc.CardInserted, Reader: "R9", ATR: []byte{1}})
	card := c.Card(context.Background())
	if card.Error == nil || card.Error.Code != api.CodeUnsupportedCard || card.UUID != "" {
		t.Errorf("Card() = %+v", card)
	}
}

// TestIdentityReadRetriesAJustInsertedCard: pcscd may report a card
// present and then answer the first connect with "no smart card inserted"
// while it powers the card up; the read is tried again.
func TestIdentityReadRetriesAJustInsertedCard(t *testing.T) {
	fails := 2
	id := &piv.Identity{UUID: "555123456789"}
	c := New(Options{CardWait: 5 * time.Second, ReadIdentity: func(ctx context.Context, reader string) (*piv.Identity, error) {
		if fails > 0 {
			fails--
			return nil, &pcsc.Error{Op: "SCardConnect", Code: 0x8010000C, Kind: pcsc.ErrNoCard}
		}
		return id, nil
	}})
	c.Apply(pcsc.Event{Type: pcsc.Available})
	c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	c.Apply(pcsc.Event{Type: pcsc.CardInserted, Reader: "R0", ATR: []byte{1}})
	if card := c.Card(context.Background()); card.UUID != "555123456789" || card.Error != nil {
		t.Errorf("Card() = %+v, want the identity after two failed connects", card)
	}
}

func TestLateIdentityForRemovedCardIsDropped(t *testing.T) {
	c, f := newTestCore(t)
	c.Apply(pcsc.Event{Type: pcsc.Available})
	c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	_, sub := c.Subscribe(16)
	c.Apply(pcsc.Event{Type: pcsc.CardInserted, Reader: "R0", ATR: []byte{1}})
	c.Apply(pcsc.Event{Type: pcsc.CardRemoved, Reader: "R0"})
	close(f.release)
	next(t, sub) // inserted
	next(t, sub) // removed
	select {
	case ev := <-sub.C:
		t.Errorf("event after removal: %s", ev.JSON)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	c, _ := newTestCore(t)
	_, slow := c.Subscribe(2)
	_, fast := c.Subscribe(64)
	for i := range 5 {
		c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: fmt.Sprint("R", i)})
		next(t, fast)
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != 2 || !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Errorf("slow subscriber: %d events, err %v", n, slow.Err())
	}
	if fast.Err() != nil {
		t.Errorf("fast subscriber err %v", fast.Err())
	}
	fast.Close()
	if _, ok := <-fast.C; ok || fast.Err() != nil {
		t.Errorf("Close: open %v err %v", ok, fast.Err())
	}
}

// TestSubscribersShareOneEvent: every subscriber receives the same *Event,
// which the HTTP layer relies on to make each WebSocket frame once.
func TestSubscribersShareOneEvent(t *testing.T) {
	c, _ := newTestCore(t)
	_, a := c.Subscribe(4)
	_, b := c.Subscribe(4)
	c.Apply(pcsc.Event{Type: pcsc.Available})
	if ea, eb := <-a.C, <-b.C; ea != eb {
		t.Errorf("subscribers got two events: %p %s and %p %s", ea, ea.JSON, eb, eb.JSON)
	}
}

// TestResync: after falling behind the monitor, the Core brings its state in
// line with the monitor's snapshot and publishes only the differences.
func TestResync(t *testing.T) {
	avail := func(rs ...pcsc.Reader) pcsc.State { return pcsc.State{Available: true, Readers: rs} }
	cases := []struct {
		name   string
		before []pcsc.Event
		state  pcsc.State
		want   []string // "type reader"
		after  string   // the readers afterwards, "name:card ..."
	}{
		{"start-up announces everything", nil,
			avail(pcsc.Reader{Name: "R0"}, pcsc.Reader{Name: "R1", CardPresent: true, ATR: []byte{1}}),
			[]string{"pcsc-available ", "reader-added R0", "reader-added R1", "card-inserted R1"}, "R0:false R1:true"},
		{"nothing changed", []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R0"}},
			avail(pcsc.Reader{Name: "R0"}), nil, "R0:false"},
		{"card and reader gone", []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R0"},
			{Type: pcsc.ReaderAdded, Reader: "R1"}, {Type: pcsc.CardInserted, Reader: "R1", ATR: []byte{1}}},
			avail(pcsc.Reader{Name: "R0"}), []string{"card-removed R1", "reader-removed R1"}, "R0:false"},
		{"card removed from one reader, inserted in another", []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R0"},
			{Type: pcsc.CardInserted, Reader: "R0", ATR: []byte{1}}, {Type: pcsc.ReaderAdded, Reader: "R1"}},
			avail(pcsc.Reader{Name: "R0"}, pcsc.Reader{Name: "R1", CardPresent: true, ATR: []byte{2}}),
			[]string{"card-removed R0", "card-inserted R1"}, "R0:false R1:true"},
		{"service gone", []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R0"}},
			pcsc.State{}, []string{"reader-removed R0", "pcsc-unavailable "}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, f := newTestCore(t)
			close(f.release)
			for _, ev := range tc.before {
				c.Apply(ev)
			}
			_, sub := c.Subscribe(64)
			defer sub.Close()
			c.resync(tc.state)
			var got []string
			for len(got) < len(tc.want) {
				m := next(t, sub)
				if m.Type != TypeCardUpdated {
					got = append(got, m.Type+" "+m.Reader)
				}
			}
			quiet := time.After(100 * time.Millisecond)
		drain:
			for {
				select {
				case ev := <-sub.C:
					if ev.Type != TypeCardUpdated {
						got = append(got, "unexpected "+ev.Type)
					}
				case <-quiet:
					break drain
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
			var after []string
			for _, r := range c.Readers().Readers {
				after = append(after, fmt.Sprintf("%s:%v", r.Name, r.CardPresent))
			}
			if s := strings.Join(after, " "); s != tc.after {
				t.Errorf("readers afterwards %q, want %q", s, tc.after)
			}
		})
	}
}
