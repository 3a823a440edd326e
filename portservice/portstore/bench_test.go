package portstore

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// benchStore opens a store in a fresh directory holding users users
// (uid:0 ...) on the range lo-hi.
func benchStore(b *testing.B, lo, hi, users int) *Store {
	b.Helper()
	var log logSink
	s := open(b, filepath.Join(b.TempDir(), storeName), lo, hi, &log)
	for i := range users {
		if _, err := s.Allocate(fmt.Sprintf("uid:%d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkAllocate measures Allocate with 1,000 users in the store: for a
// known user (no write), for a new user (one durable write each), and for port
// changes from many goroutines at once (writes shared by group commit).
func BenchmarkAllocate(b *testing.B) {
	const users = 1000
	b.Run("known", func(b *testing.B) {
		s := benchStore(b, defaultLo, defaultHi, users)
		i := 0
		for b.Loop() {
			if _, err := s.Allocate(fmt.Sprintf("uid:%d", i%users), nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("new", func(b *testing.B) {
		// The range has room for 1,000 more users; the store is refilled from
		// 1,000 users whenever that is used up, so each allocation writes a file
		// of 1,000 to 2,000 users.
		s := benchStore(b, 20000, 21999, users)
		n := 0
		for b.Loop() {
			if s.Len() == 2000 {
				b.StopTimer()
				s = benchStore(b, 20000, 21999, users)
				b.StartTimer()
			}
			if _, err := s.Allocate(fmt.Sprintf("uid:%d", 1000000+n), nil); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	})
	b.Run("move-parallel", func(b *testing.B) {
		// 16 goroutines per CPU each give one of the 1,000 users a new port
		// (Reallocate: a port change, written before it returns), so the store
		// stays at 1,000 users; concurrent changes share writes.
		s := benchStore(b, 20000, 21999, users)
		var n atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Reallocate(fmt.Sprintf("uid:%d", n.Add(1)%users), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
	})
	b.Run("lookup", func(b *testing.B) {
		s := benchStore(b, defaultLo, defaultHi, users)
		i := 0
		for b.Loop() {
			s.Lookup("uid:500")
			s.userOf(defaultLo + i%users)
			i++
		}
	})
}
