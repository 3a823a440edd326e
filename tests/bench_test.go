//go:build linux && cgo

package tests

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/tests/testbed"
)

// referenceWatcher is the least a program can do to notice a card: a bare
// GetStatusChange loop on one reader. It sends the time it saw each
// insertion.
func referenceWatcher(tb testing.TB, reader string) <-chan time.Time {
	tb.Helper()
	c, err := scard.EstablishContext()
	if err != nil {
		tb.Fatal(err)
	}
	seen := make(chan time.Time, 16)
	done := make(chan struct{})
	var stop atomic.Bool
	go func() {
		defer close(done)
		rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
		present := false
		for !stop.Load() {
			// A bounded wait: SCardCancel is lost when it comes while no
			// GetStatusChange is waiting in pcscd (between two calls), and
			// an unbounded one would then never return. A change is
			// reported at once either way.
			err := c.GetStatusChange(rs, time.Second)
			if errors.Is(err, scard.ErrTimeout) {
				continue
			}
			if err != nil {
				return // cancelled at the end of the benchmark
			}
			now := time.Now()
			p := rs[0].EventState&scard.StatePresent != 0
			if p && !present {
				seen <- now
			}
			present = p
			rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
		}
	}()
	tb.Cleanup(func() {
		stop.Store(true)
		_ = c.Cancel()
		<-done
		_ = c.Release()
	})
	return seen
}

// BenchmarkInsertToEvent measures the time from a virtual card's insertion
// to the Monitor's card-inserted event, and in the same run and for the
// same insertions the time to a bare GetStatusChange loop's wake-up. Most
// of both is pcscd's own polling of the reader (vpcd is polled every
// 400 ms); the difference is the Monitor's cost. Run with -benchtime=30x.
func BenchmarkInsertToEvent(b *testing.B) {
	needPCSCD(b)
	m := pcsc.NewMonitor(pcsc.MonitorOptions{})
	_, sub := m.Subscribe(64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ref := referenceWatcher(b, reader0)
	card, _, _ := newCard(b, testCard{uuid: "555000000099"})

	// Let the monitor finish its start-up events.
	waitFor := func(typ pcsc.EventType) time.Time {
		for {
			select {
			case ev := <-sub.C:
				if ev.Type == typ && ev.Reader == reader0 {
					return time.Now()
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("no %s event within 10s", typ)
			}
		}
	}
	var ours, theirs []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := card.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
			b.Fatal(err)
		}
		t1 := waitFor(pcsc.CardInserted)
		var t2 time.Time
		select {
		case t2 = <-ref:
		case <-time.After(10 * time.Second):
			b.Fatal("reference watcher saw no insertion within 10s")
		}
		ours = append(ours, t1.Sub(t0))
		theirs = append(theirs, t2.Sub(t0))
		if err := card.Remove(); err != nil {
			b.Fatal(err)
		}
		waitFor(pcsc.CardRemoved)
	}
	b.StopTimer()
	mo, mr := median(ours), median(theirs)
	b.ReportMetric(ms(mo), "monitor-median-ms")
	b.ReportMetric(ms(mr), "reference-median-ms")
	b.ReportMetric(ms(percentile(ours, 0.9)), "monitor-p90-ms")
	b.ReportMetric(ms(percentile(theirs, 0.9)), "reference-p90-ms")
	b.ReportMetric(ms(mo)/ms(mr), "ratio")
	diffs := make([]time.Duration, len(ours))
	for i := range ours {
		diffs[i] = ours[i] - theirs[i]
	}
	b.ReportMetric(ms(median(diffs)), "overhead-median-ms")
	b.ReportMetric(ms(slices.Max(diffs)), "overhead-max-ms")
	b.ReportMetric(ms(mr)*1.1+2, "target-ms")
}

func median(d []time.Duration) time.Duration { return percentile(d, 0.5) }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
