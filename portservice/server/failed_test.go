package server

import (
	"testing"
	"time"
)

// TestFailedPorts checks that failed ports are remembered for the time set,
// that memory stays bounded, and that only a first failure counts as new.
func TestFailedPorts(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFailedPorts(10*time.Minute, 3, func() time.Time { return now })
	steps := []struct {
		name    string
		advance time.Duration
		add     int
		fresh   bool
		has     []int
		hasnt   []int
	}{
		{name: "first failure", add: 57000, fresh: true, has: []int{57000}, hasnt: []int{57001}},
		{name: "again", advance: time.Minute, add: 57000, fresh: false, has: []int{57000}},
		{name: "a second port", advance: time.Minute, add: 57001, fresh: true, has: []int{57000, 57001}},
		{name: "a third port", advance: time.Minute, add: 57002, fresh: true, has: []int{57000, 57001, 57002}},
		{name: "full: the one expiring soonest goes", add: 57003, fresh: true, has: []int{57001, 57002, 57003}, hasnt: []int{57000}},
		{name: "57001 expires 10 minutes after its failure", advance: 9 * time.Minute, has: []int{57002, 57003}, hasnt: []int{57001}},
		{name: "everything expires", advance: 10 * time.Minute, hasnt: []int{57000, 57001, 57002, 57003}},
		{name: "a port failing after expiry is new again", add: 57002, fresh: true, has: []int{57002}},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.add != 0 {
			if got := f.add(st.add); got != st.fresh {
				t.Errorf("%s: add(%d) = %v, want %v", st.name, st.add, got, st.fresh)
			}
		}
		for _, p := range st.has {
			if !f.has(p) {
				t.Errorf("%s: port %d forgotten", st.name, p)
			}
		}
		for _, p := range st.hasnt {
			if f.has(p) {
				t.Errorf("%s: port %d still remembered", st.name, p)
			}
		}
		if n := f.len(); n > 3 {
			t.Errorf("%s: %d ports remembered, more than the bound of 3", st.name, n)
		}
	}
}
