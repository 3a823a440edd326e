//go:build linux && cgo

package tests

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/tests/testbed"
)

// watch runs a Monitor on the real pcscd for the rest of the test and
// returns a subscription that has already consumed the start-up events.
func watch(t *testing.T) (*pcsc.Monitor, *pcsc.Subscription) {
	t.Helper()
	m := pcsc.NewMonitor(pcsc.MonitorOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	_, sub := m.Subscribe(256)
	testutil.RunBackground(t, "the monitor", 10*time.Second, m.Run)
	// Start-up: available, then every reader.
	nextEvent(t, sub, pcsc.Available, "")
	for _, r := range bed.Readers() {
		nextEvent(t, sub, pcsc.ReaderAdded, r)
	}
	return m, sub
}

// nextEvent waits up to 10 s for the next event and checks its type and reader.
func nextEvent(t *testing.T, sub *pcsc.Subscription, typ pcsc.EventType, reader string) pcsc.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription closed (%v), want %s %q", sub.Err(), typ, reader)
		}
		if ev.Type != typ || ev.Reader != reader {
			t.Fatalf("event = %s %q, want %s %q", ev.Type, ev.Reader, typ, reader)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no event within 10s, want %s %q", typ, reader)
	}
	return pcsc.Event{}
}

func TestMonitorInsertRemoveBothReaders(t *testing.T) {
	needPCSCD(t)
	m, sub := watch(t)
	atr0 := []byte{0x3B, 0x80, 0x80, 0x01, 0x01}
	c0, _, _ := newCard(t, testCard{uuid: "555000000001", atr: atr0})
	c1, _, _ := newCard(t, testCard{uuid: "555000000002"})

	if err := c0.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sub, pcsc.CardInserted, reader0)
	if !bytes.Equal(ev.ATR, atr0) {
		t.Errorf("ATR = %X, want %X", ev.ATR, atr0)
	}
	if err := c1.Insert(testbed.DefaultSlot.Addr(1)); err != nil {
		t.Fatal(err)
	}
	ev = nextEvent(t, sub, pcsc.CardInserted, reader1)
	if !bytes.Equal(ev.ATR, vcard.DefaultATR()) {
		t.Errorf("ATR = %X, want the default %X", ev.ATR, vcard.DefaultATR())
	}
	st := m.State()
	if len(st.Readers) != 2 || !st.Readers[0].CardPresent || !st.Readers[1].CardPresent {
		t.Fatalf("state with two cards = %+v", st)
	}
	if err := c0.Remove(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.CardRemoved, reader0)
	if err := c1.Remove(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.CardRemoved, reader1)
	// Re-insertion into the same reader is seen again.
	if err := c0.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.CardInserted, reader0)
	if c, ok := m.State().Card(); !ok || c.Name != reader0 {
		t.Errorf("State().Card() = %+v, %v", c, ok)
	}
}

func TestMonitorSurvivesPCSCDRestart(t *testing.T) {
	needPCSCD(t)
	_, sub := watch(t)
	c0, _, _ := newCard(t, testCard{uuid: "555000000003"})
	if err := c0.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.CardInserted, reader0)

	for _, stop := range []struct {
		name string
		fn   func() error
	}{{"SIGKILL", bed.Kill}, {"SIGTERM", bed.Stop}} {
		t.Run(stop.name, func(t *testing.T) {
			if err := stop.fn(); err != nil {
				t.Fatal(err)
			}
			nextEvent(t, sub, pcsc.CardRemoved, reader0)
			nextEvent(t, sub, pcsc.ReaderRemoved, reader0)
			nextEvent(t, sub, pcsc.ReaderRemoved, reader1)
			nextEvent(t, sub, pcsc.Unavailable, "")
			// While pcscd is down the monitor waits with backoff; it must
			// not report anything else.
			select {
			case ev := <-sub.C:
				t.Fatalf("while pcscd is down: unexpected %s %q", ev.Type, ev.Reader)
			case <-time.After(700 * time.Millisecond):
			}
			_ = c0.Remove() // vpcd went with pcscd
			if err := bed.Start(); err != nil {
				t.Fatal(err)
			}
			nextEvent(t, sub, pcsc.Available, "")
			nextEvent(t, sub, pcsc.ReaderAdded, reader0)
			nextEvent(t, sub, pcsc.ReaderAdded, reader1)
			if err := c0.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
				t.Fatal(err)
			}
			nextEvent(t, sub, pcsc.CardInserted, reader0)
		})
	}
}

// pcscd reads serial reader configuration only at start (and Debian's
// vpcd driver serves one channel per pcscd), so here the set of readers
// changes across a restart: the monitor reports the old readers removed and
// the new ones added.
func TestMonitorReadersChange(t *testing.T) {
	needPCSCD(t)
	m, sub := watch(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000004"})
	insert(t, c, 1)
	nextEvent(t, sub, pcsc.CardInserted, reader1)

	other := testbed.Slot{Name: "Other PCD", Port: testbed.DefaultSlot.Port}
	if err := bed.Stop(); err != nil {
		t.Fatal(err)
	}
	_ = c.Remove()
	nextEvent(t, sub, pcsc.ReaderRemoved, reader0)
	nextEvent(t, sub, pcsc.CardRemoved, reader1)
	nextEvent(t, sub, pcsc.ReaderRemoved, reader1)
	nextEvent(t, sub, pcsc.Unavailable, "")
	if err := bed.SetSlots(other); err != nil {
		t.Fatal(err)
	}
	if err := bed.Start(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.Available, "")
	nextEvent(t, sub, pcsc.ReaderAdded, other.Reader(0))
	nextEvent(t, sub, pcsc.ReaderAdded, other.Reader(1))
	if err := c.Insert(other.Addr(0)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.CardInserted, other.Reader(0))
	st := m.State()
	if len(st.Readers) != 2 || st.Readers[0].Name != other.Reader(0) || !st.Readers[0].CardPresent {
		t.Errorf("state = %+v", st)
	}
}

func TestMonitorCardDisconnectMidExchange(t *testing.T) {
	needPCSCD(t)
	_, sub := watch(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000005", fault: vcard.FaultDisconnect})
	if err := c.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, pcsc.CardInserted, reader0)
	_, err := readIdentity(t, reader0, 10*time.Second)
	if err == nil {
		t.Fatal("reading a card that vanished mid-exchange succeeded")
	}
	nextEvent(t, sub, pcsc.CardRemoved, reader0)
	if strings.Contains(err.Error(), "panic") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}
