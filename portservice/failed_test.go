package portservice

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
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

// TestRangeHolders holds ports of the range with client sockets: more than
// holderLimit of them, besides the user's own port, names the user in the log
// and in versioninfo; holderLimit or fewer does not.
func TestRangeHolders(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		held     int
		register bool
		want     []api.PortHolder
	}{
		{name: "four ports", held: 4},
		{name: "five ports", held: 5, want: []api.PortHolder{{User: me.ID, Ports: 5}}},
		{name: "five ports and a registered agent", held: 5, register: true, want: []api.PortHolder{{User: me.ID, Ports: 5}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for p := 57000; p < 57000+c.held; p++ {
				holdClient(t, p)
			}
			var logs testutil.Buffer
			s, sock := runService(t, nil, &logs)
			if c.register {
				reg, err := Register(context.Background(), sock, me)
				if err != nil {
					t.Fatal(err)
				}
				defer reg.Close()
				serveAgentPort(t, reg, reg.Port)
			}
			s.checkHolders()
			vi := s.VersionInfo()
			if vi.PortRange == nil || vi.PortRange.Lo != 57000 || vi.PortRange.Hi != 57009 {
				t.Fatalf("versioninfo portRange = %+v", vi.PortRange)
			}
			if !slices.Equal(vi.PortRange.Holders, c.want) {
				t.Errorf("holders = %+v, want %+v", vi.PortRange.Holders, c.want)
			}
			logged := strings.Contains(logs.String(), `"event":"range-ports-held","holder":"`+me.ID+`"`)
			if logged != (len(c.want) > 0) {
				t.Errorf("holder logged = %v, want %v:\n%s", logged, len(c.want) > 0, logs.String())
			}
		})
	}
}
