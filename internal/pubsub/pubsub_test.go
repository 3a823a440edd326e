package pubsub

import (
	"errors"
	"sync"
	"testing"
)

var errSlow = errors.New("fell behind")

// drain reads what C holds until it is closed.
func drain(t *testing.T, s *Subscription[int]) []int {
	t.Helper()
	var got []int
	for {
		select {
		case m, ok := <-s.C:
			if !ok {
				return got
			}
			got = append(got, m)
		default:
			t.Fatalf("C still open after %v", got)
		}
	}
}

func TestPublishDropsASubscriberThatFallsBehind(t *testing.T) {
	cases := []struct {
		name      string
		buffer    int
		published int
		wantGot   int
		wantErr   error
	}{
		{"room to spare", 4, 3, 3, nil},
		{"buffer just full", 3, 3, 3, nil},
		{"one too many", 3, 4, 3, errSlow},
		{"zero buffer holds one", 0, 1, 1, nil},
		{"negative buffer holds one", -5, 2, 1, errSlow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := New[int](errSlow)
			s := h.Subscribe(c.buffer)
			dropped := 0
			for i := range c.published {
				dropped += h.Publish(i)
			}
			if c.wantErr == nil {
				s.Close()
			}
			got := drain(t, s)
			if len(got) != c.wantGot || !errors.Is(s.Err(), c.wantErr) {
				t.Errorf("got %v, err %v; want %d messages, err %v", got, s.Err(), c.wantGot, c.wantErr)
			}
			for i, m := range got {
				if m != i {
					t.Errorf("message %d is %d: out of order", i, m)
				}
			}
			if wantDropped := map[bool]int{true: 1}[c.wantErr != nil]; dropped != wantDropped {
				t.Errorf("Publish reported %d dropped, want %d", dropped, wantDropped)
			}
		})
	}
}

func TestSlowSubscriberDoesNotHoldUpOthers(t *testing.T) {
	h := New[int](errSlow)
	slow, fast := h.Subscribe(1), h.Subscribe(8)
	for i := range 5 {
		h.Publish(i)
		if m := <-fast.C; m != i {
			t.Fatalf("fast subscriber got %d, want %d", m, i)
		}
	}
	if got := drain(t, slow); len(got) != 1 || !errors.Is(slow.Err(), errSlow) {
		t.Errorf("slow subscriber: %v, err %v", got, slow.Err())
	}
	if fast.Err() != nil {
		t.Errorf("fast subscriber: err %v while open", fast.Err())
	}
	slow.Close() // after the drop: keeps its error
	if !errors.Is(slow.Err(), errSlow) {
		t.Errorf("Close after the drop changed Err to %v", slow.Err())
	}
	if n := h.Publish(9); n != 0 {
		t.Errorf("a dropped subscriber was dropped again (%d)", n)
	}
}

func TestCloseAndCloseAll(t *testing.T) {
	h := New[string](errSlow)
	a, b, c := h.Subscribe(2), h.Subscribe(2), h.Subscribe(2)
	a.Close()
	a.Close() // twice is harmless
	h.Publish("x")
	if got, ok := <-a.C; ok || a.Err() != nil {
		t.Errorf("closed subscription: got %q, open %v, err %v", got, ok, a.Err())
	}
	h.CloseAll()
	for _, s := range []*Subscription[string]{b, c} {
		if m := <-s.C; m != "x" {
			t.Errorf("message before CloseAll: %q", m)
		}
		if _, ok := <-s.C; ok || s.Err() != nil {
			t.Errorf("after CloseAll: open %v, err %v", ok, s.Err())
		}
	}
	// The Hub serves new subscribers after CloseAll.
	d := h.Subscribe(1)
	h.Publish("y")
	if m := <-d.C; m != "y" {
		t.Errorf("subscription after CloseAll got %q", m)
	}
}

func TestNewWithoutSlowErrorPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	New[int](nil)
}

// TestSnapshotUnderThePublishersLock checks the pattern the package doc
// describes, with the race detector: a publisher that subscribes and
// publishes under its own lock gives every subscriber a snapshot and then
// exactly the messages after it.
func TestSnapshotUnderThePublishersLock(t *testing.T) {
	type publisher struct {
		mu    sync.Mutex
		state int // the last message published
		hub   *Hub[int]
	}
	p := &publisher{hub: New[int](errSlow)}
	const n = 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= n; i++ {
			p.mu.Lock()
			p.state = i
			p.hub.Publish(i)
			p.mu.Unlock()
		}
	})
	for range 8 {
		wg.Go(func() {
			p.mu.Lock()
			snap, s := p.state, p.hub.Subscribe(n)
			p.mu.Unlock()
			defer s.Close()
			want := snap + 1
			for want <= n {
				m, ok := <-s.C
				if !ok {
					t.Errorf("closed at %d: %v", want, s.Err())
					return
				}
				if m != want {
					t.Errorf("snapshot %d: got %d, want %d", snap, m, want)
					return
				}
				want++
			}
		})
	}
	wg.Wait()
}
