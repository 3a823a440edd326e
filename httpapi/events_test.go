package httpapi

import (
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/agent"
)

// TestFramesMadeOncePerEvent: streams sending the same event share one
// prepared frame, made by whichever sends it first, however many there are.
func TestFramesMadeOncePerEvent(t *testing.T) {
	var f frames
	ev := &agent.Event{Seq: 7, Type: "card-inserted", JSON: []byte(`{"type":"card-inserted"}`)}
	const streams = 1000
	got := make([]*websocket.PreparedMessage, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			pm, err := f.get(ev)
			if err != nil {
				t.Error(err)
			}
			got[i] = pm
		})
	}
	wg.Wait()
	for i, pm := range got {
		if pm == nil || pm != got[0] {
			t.Fatalf("stream %d got frame %p, stream 0 %p: made more than once", i, pm, got[0])
		}
	}
}

// TestFramesKeepEventsApart: each event has its own frame, also when a later
// event takes the slot of an earlier one.
func TestFramesKeepEventsApart(t *testing.T) {
	var f frames
	event := func(seq uint64) *agent.Event { return &agent.Event{Seq: seq, Type: "reader-added", JSON: []byte(`{}`)} }
	cases := []struct {
		name string
		a, b *agent.Event
	}{
		{"next event", event(1), event(2)},
		{"same slot", event(3), event(3 + frameSlots)},
		{"same seq, another event", event(4), event(4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a1, _ := f.get(c.a)
			b1, _ := f.get(c.b)
			a2, _ := f.get(c.a)
			if a1 == nil || b1 == nil || a2 == nil {
				t.Fatal("no frame")
			}
			if a1 == b1 || a2 == b1 {
				t.Errorf("two events share a frame")
			}
			if c.a.Seq%frameSlots != c.b.Seq%frameSlots && a1 != a2 {
				t.Errorf("the frame of an event still in its slot was made again")
			}
		})
	}
}
