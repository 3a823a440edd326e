package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// startMonitor runs a Monitor on f until the test ends.
func startMonitor(t *testing.T, f *fakeService, est establishFunc) (*Monitor, *Subscription) {
	t.Helper()
	if est == nil {
		est = f.establish
	}
	m := NewMonitor(MonitorOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, establish: est})
	_, sub := m.Subscribe(64)
	testutil.RunBackground(t, "Run", 5*time.Second, m.Run)
	return m, sub
}

// expect reads the next events and compares their "type reader" forms.
func expect(t *testing.T, sub *Subscription, want ...string) []Event {
	t.Helper()
	var got []Event
	for range want {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed (err %v) after %v, want %q", sub.Err(), describe(got), want)
			}
			got = append(got, ev)
		case <-time.After(3 * time.Second):
			t.Fatalf("got %q, then no event within 3s; want %q", describe(got), want)
		}
	}
	if d := describe(got); strings.Join(d, "|") != strings.Join(want, "|") {
		t.Fatalf("events = %q, want %q", d, want)
	}
	return got
}

func describe(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		s := ev.Type.String()
		if ev.Reader != "" {
			s += " " + ev.Reader
		}
		out = append(out, s)
	}
	return out
}

// expectQuiet fails if an event arrives within d.
func expectQuiet(t *testing.T, sub *Subscription, d time.Duration) {
	t.Helper()
	select {
	case ev := <-sub.C:
		t.Fatalf("unexpected event %s %q", ev.Type, ev.Reader)
	case <-time.After(d):
	}
}

var atrA = []byte{0x3B, 0x88, 0x80, 0x01}

func TestMonitorStartupReportsReadersAndCards(t *testing.T) {
	f := newFakeService()
	f.addReader("B reader")
	f.addReader("A reader")
	f.insert("B reader", atrA)
	m, sub := startMonitor(t, f, nil)
	evs := expect(t, sub, "pcsc-available", "reader-added A reader", "reader-added B reader", "card-inserted B reader")
	if !bytes.Equal(evs[3].ATR, atrA) {
		t.Errorf("ATR = %X, want %X", evs[3].ATR, atrA)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Errorf("event %d has seq %d, want %d", i, ev.Seq, i+1)
		}
		if ev.Time.IsZero() {
			t.Errorf("event %d has no time", i)
		}
	}
	st := m.State()
	if !st.Available || st.Seq != 4 || len(st.Readers) != 2 {
		t.Fatalf("state = %+v", st)
	}
	card, ok := st.Card()
	if !ok || card.Name != "B reader" || !bytes.Equal(card.ATR, atrA) {
		t.Errorf("State.Card() = %+v, %v", card, ok)
	}
}

func TestMonitorCardInsertAndRemove(t *testing.T) {
	f := newFakeService()
	f.addReader("R0")
	f.addReader("R1")
	m, sub := startMonitor(t, f, nil)
	expect(t, sub, "pcsc-available", "reader-added R0", "reader-added R1")
	f.insert("R1", atrA)
	expect(t, sub, "card-inserted R1")
	f.insert("R0", []byte{1, 2})
	expect(t, sub, "card-inserted R0")
	f.remove("R1")
	expect(t, sub, "card-removed R1")
	if st := m.State(); !st.Readers[0].CardPresent || st.Readers[1].CardPresent {
		t.Errorf("state after removal = %+v", st)
	}
	expectQuiet(t, sub, 50*time.Millisecond)
}

func TestMonitorReaderHotPlug(t *testing.T) {
	f := newFakeService()
	m, sub := startMonitor(t, f, nil)
	expect(t, sub, "pcsc-available")
	f.addReader("USB reader")
	expect(t, sub, "reader-added USB reader")
	f.insert("USB reader", atrA)
	expect(t, sub, "card-inserted USB reader")
	f.removeReader("USB reader")
	expect(t, sub, "card-removed USB reader", "reader-removed USB reader")
	if st := m.State(); len(st.Readers) != 0 {
		t.Errorf("readers after unplug = %+v", st.Readers)
	}
}

func TestMonitorSurvivesServiceRestart(t *testing.T) {
	f := newFakeService()
	f.addReader("R0")
	f.insert("R0", atrA)
	m, sub := startMonitor(t, f, nil)
	expect(t, sub, "pcsc-available", "reader-added R0", "card-inserted R0")
	f.setUp(false)
	expect(t, sub, "card-removed R0", "reader-removed R0", "pcsc-unavailable")
	if st := m.State(); st.Available || len(st.Readers) != 0 {
		t.Errorf("state while unavailable = %+v", st)
	}
	expectQuiet(t, sub, 100*time.Millisecond) // several retries, one event
	f.setUp(true)
	expect(t, sub, "pcsc-available", "reader-added R0", "card-inserted R0")
	f.remove("R0")
	expect(t, sub, "card-removed R0")
}

func TestMonitorStartsWithoutService(t *testing.T) {
	f := newFakeService()
	f.setUp(false)
	_, sub := startMonitor(t, f, nil)
	expect(t, sub, "pcsc-unavailable")
	f.addReader("R0")
	f.setUp(true)
	expect(t, sub, "pcsc-available", "reader-added R0")
}

func TestMonitorDropsSlowSubscriber(t *testing.T) {
	f := newFakeService()
	f.addReader("R0")
	m, fast := startMonitor(t, f, nil)
	expect(t, fast, "pcsc-available", "reader-added R0")
	_, slow := m.Subscribe(2)
	for i := 0; i < 3; i++ {
		f.insert("R0", atrA)
		expect(t, fast, "card-inserted R0")
		f.remove("R0")
		expect(t, fast, "card-removed R0")
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != 2 || !errors.Is(slow.Err(), ErrOverflow) {
		t.Errorf("slow subscriber got %d events then err %v; want 2 and ErrOverflow", n, slow.Err())
	}
	if fast.Err() != nil {
		t.Errorf("fast subscriber err = %v", fast.Err())
	}
}

func TestSubscriptionCloseAndRunEnd(t *testing.T) {
	f := newFakeService()
	m := NewMonitor(MonitorOptions{establish: f.establish})
	_, a := m.Subscribe(1)
	_, b := m.Subscribe(8)
	a.Close()
	a.Close() // twice is harmless
	if _, ok := <-a.C; ok || a.Err() != nil {
		t.Errorf("closed subscription: open=%v err=%v", ok, a.Err())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-b.C // available
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	for range b.C {
	}
	if b.Err() != nil {
		t.Errorf("subscription at Run's end: err %v, want nil", b.Err())
	}
}

func TestMonitorDoesNotSpin(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		f := newFakeService()
		f.addReader("R0")
		_, sub := startMonitor(t, f, nil)
		expect(t, sub, "pcsc-available", "reader-added R0")
		time.Sleep(20 * time.Millisecond)
		f.mu.Lock()
		before := f.calls
		f.mu.Unlock()
		time.Sleep(300 * time.Millisecond)
		f.mu.Lock()
		after := f.calls
		f.mu.Unlock()
		if after != before {
			t.Errorf("GetStatusChange called %d times while nothing changed", after-before)
		}
	})
	t.Run("service down", func(t *testing.T) {
		f := newFakeService()
		f.setUp(false)
		var attempts atomic.Int32
		_, sub := startMonitor(t, f, func() (sysContext, error) { attempts.Add(1); return f.establish() })
		expect(t, sub, "pcsc-unavailable")
		time.Sleep(400 * time.Millisecond)
		// Backoff 10ms doubling to 40ms, jittered to at least half: under 25 tries.
		if n := attempts.Load(); n > 25 || n < 3 {
			t.Errorf("%d attempts to reach a stopped service in 400ms, want 3..25", n)
		}
	})
	t.Run("listing always fails", func(t *testing.T) {
		f := newFakeService()
		f.listErr = &Error{Op: "SCardListReaders", Code: 0x80100001, Msg: "internal error"}
		var attempts atomic.Int32
		startMonitor(t, f, func() (sysContext, error) { attempts.Add(1); return f.establish() })
		time.Sleep(400 * time.Millisecond)
		if n := attempts.Load(); n > 25 {
			t.Errorf("%d contexts opened in 400ms by a loop that fails at once, want at most 25", n)
		}
	})
}

func TestEventTypeString(t *testing.T) {
	want := map[EventType]string{
		ReaderAdded: "reader-added", ReaderRemoved: "reader-removed",
		CardInserted: "card-inserted", CardRemoved: "card-removed",
		Unavailable: "pcsc-unavailable", Available: "pcsc-available",
		0: "unknown", 99: "unknown",
	}
	for typ, s := range want {
		if got := typ.String(); got != s {
			t.Errorf("EventType(%d).String() = %q, want %q", typ, got, s)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		code uint32
		want error
	}{
		{codeNoService, ErrUnavailable},
		{codeServiceStopped, ErrUnavailable},
		{codeUnknownReader, ErrNoReader},
		{codeRemovedCard, ErrNoCard},
		{codeSharingViolation, ErrCardBusy},
		{codeUnresponsiveCard, ErrCardUnresponsive},
		{codeCancelled, errCancelled},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%08X", c.code), func(t *testing.T) {
			err := error(&Error{Op: "op", Code: c.code, Msg: "m", Kind: classify(c.code)})
			if !errors.Is(err, c.want) {
				t.Errorf("%v does not match %v", err, c.want)
			}
		})
	}
	if classify(0x80100001) != nil {
		t.Error("an internal error should stay unclassified")
	}
}
