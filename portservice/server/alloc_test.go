package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/wine"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/portstore"
)

// holdClient holds a client socket bound to 127.0.0.1:port, connected to a
// listener of its own and not listening, as a program squatting a port
// without serving on it does. The test is skipped if the port is busy.
func holdClient(t *testing.T, port int) {
	t.Helper()
	target, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp4", target.Addr().String())
	if err != nil {
		t.Skipf("port %d is busy on this host: %v", port, err)
	}
	t.Cleanup(func() { c.Close() })
}

// serveAgentPort listens on port on loopback as an agent does and tells the
// service.
func serveAgentPort(t *testing.T, reg *portservice.Registration, port int) {
	t.Helper()
	lns, err := localhttp.Listen(fmt.Sprintf("localhost:%d", port))
	if err != nil {
		t.Fatalf("the agent cannot listen on the port it was given: %v", err)
	}
	t.Cleanup(func() {
		for _, l := range lns {
			l.Close()
		}
	})
	if err := reg.Listening(port); err != nil {
		t.Fatal(err)
	}
}

// TestAllocationSkipsPortsThatCannotBeBound holds client sockets (bound,
// connected, not listening) on the two lowest ports of the range: the user
// gets the third, can serve on it, and keeps it.
func TestAllocationSkipsPortsThatCannotBeBound(t *testing.T) {
	wine.SkipBefore(t, 10, "GetExtendedTcpTable gives PID 0 for listening sockets, so the service cannot tell the user's own listener on its port from another's")
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	holdClient(t, 57000)
	holdClient(t, 57001)
	var logs testutil.Buffer
	s, sock := runService(t, nil, &logs)
	reg, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if reg.Port != 57002 {
		t.Fatalf("registered on %d with 57000 and 57001 held by client sockets, want 57002", reg.Port)
	}
	serveAgentPort(t, reg, reg.Port)
	for i := range 3 {
		if p, body, _ := getPort(t, s, ""); p != 57002 {
			t.Fatalf("GetPortNumber #%d = %d (%s), want 57002", i+1, p, body)
		}
	}
	if l := logs.String(); !strings.Contains(l, `"port":57000`) || !strings.Contains(l, `"port":57001`) {
		t.Errorf("the unusable ports were not logged:\n%s", l)
	}
	// The agent restarting in place keeps its listener and registers again:
	// its own port fails the test-bind, yet it keeps the port.
	again, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Port != 57002 {
		t.Errorf("registered again while serving on 57002: got %d", again.Port)
	}
}

// TestMovesSkipEveryFailedPort squats the user's port, then the port the user
// was moved to: the second move goes to a third port, not back to the first.
func TestMovesSkipEveryFailedPort(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	intruder := peercred.User{ID: "uid:4242"}
	fl := &fakeListeners{owners: map[uint16]peercred.User{}}
	var logs testutil.Buffer
	s, sock := runService(t, fl, &logs)
	reg, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	port := reg.Port
	fl.set(port, me)
	if err := reg.Listening(port); err != nil {
		t.Fatal(err)
	}
	var seen []int
	for range 2 {
		seen = append(seen, port)
		// The intruder lets go of the last port and takes the user's.
		fl.mu.Lock()
		for p, u := range fl.owners {
			if u == intruder {
				delete(fl.owners, p)
			}
		}
		fl.owners[uint16(port)] = intruder
		fl.mu.Unlock()
		answered := make(chan int, 1)
		go func() { p, _, _ := getPort(t, s, ""); answered <- p }()
		select {
		case m := <-reg.Updates:
			if m.Type != portservice.MsgMove {
				t.Fatalf("got %+v, want a move", m)
			}
			port = m.Port
		case <-time.After(5 * time.Second):
			t.Fatal("the agent was not told to move")
		}
		for _, old := range seen {
			if port == old {
				t.Fatalf("moved to %d, a port that failed before (ports so far %v)", port, seen)
			}
		}
		fl.set(port, me)
		if err := reg.Listening(port); err != nil {
			t.Fatal(err)
		}
		if p := <-answered; p != port {
			t.Fatalf("GetPortNumber answered %d, want %d", p, port)
		}
	}
}

// TestRegistrationSkipsAPortAnotherUserListensOn: a user whose kept port
// another user now listens on is given another port when their agent
// registers, and the holder is logged.
func TestRegistrationSkipsAPortAnotherUserListensOn(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	fl := &fakeListeners{owners: map[uint16]peercred.User{}}
	var logs testutil.Buffer
	_, sock := runService(t, fl, &logs)
	first, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	kept := first.Port
	first.Close()
	fl.set(kept, peercred.User{ID: "uid:4242"})
	again, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Port == kept {
		t.Fatalf("registered on %d, which uid:4242 listens on", kept)
	}
	if l := logs.String(); !strings.Contains(l, fmt.Sprintf(`"port":%d`, kept)) || !strings.Contains(l, "held by uid:4242") {
		t.Errorf("the held port was not logged with its holder:\n%s", l)
	}
}

// TestBindFailureNamesTheHolder: an agent that cannot bind its port, because
// another user holds a socket on it, is moved, and the holder is logged as a
// squatter; a port nobody else holds is logged as the agent's failure.
func TestBindFailureNamesTheHolder(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	intruder := peercred.User{ID: "uid:4242"}
	var held atomic.Int64 // the port the intruder holds a client socket on
	var logs testutil.Buffer
	_, sock := runServiceWith(t, &logs, func(opt *Options) {
		opt.listeners = func(uint16) ([]peercred.User, error) { return nil, nil }
		opt.boundSockets = func(lo, hi uint16) ([]peercred.Bound, error) {
			if p := held.Load(); int64(lo) <= p && p <= int64(hi) {
				return []peercred.Bound{{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p)), Owner: intruder}}, nil
			}
			return nil, nil
		}
	})
	reg, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	first := reg.Port
	held.Store(int64(first))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	second, err := reg.BindFailed(ctx, first)
	if err != nil || second == first {
		t.Fatalf("BindFailed(%d) = %d, %v; want another port", first, second, err)
	}
	third, err := reg.BindFailed(ctx, second)
	if err != nil || third == first || third == second {
		t.Fatalf("BindFailed(%d) = %d, %v; want a third port", second, third, err)
	}
	l := logs.String()
	for _, want := range []string{
		fmt.Sprintf(`"event":"port-squatted","port":%d,"squatter":"uid:4242"`, first),
		fmt.Sprintf(`"port":%d,"reason":"held by uid:4242"`, first),
		fmt.Sprintf(`"port":%d,"reason":"the agent of %s could not bind it"`, second, me.ID),
	} {
		if !strings.Contains(l, want) {
			t.Errorf("the log lacks %s:\n%s", want, l)
		}
	}
	if n := strings.Count(l, "port-squatted"); n != 1 {
		t.Errorf("%d squatting events logged, want 1:\n%s", n, l)
	}
}

// TestExhaustedRangeGivesPortOutside holds every port of the range with client
// sockets: a new user still gets a port, outside the range, kept in
// PortStore.txt.
func TestExhaustedRangeGivesPortOutside(t *testing.T) {
	wine.SkipBefore(t, 10, "GetExtendedTcpTable gives PID 0 for listening sockets, so the service cannot tell the user's own listener on its port from another's")
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	for p := 57000; p <= 57009; p++ {
		holdClient(t, p)
	}
	var logs testutil.Buffer
	s, sock := runService(t, nil, &logs)
	reg, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatalf("register with the whole range held: %v", err)
	}
	defer reg.Close()
	if reg.Port >= 57000 && reg.Port <= 57009 || reg.Port < 1024 {
		t.Fatalf("registered on %d with every port of 57000-57009 held, want a port outside the range", reg.Port)
	}
	serveAgentPort(t, reg, reg.Port)
	if p, body, _ := getPort(t, s, ""); p != reg.Port {
		t.Fatalf("GetPortNumber = %d (%s), want %d", p, body, reg.Port)
	}
	if l := logs.String(); !strings.Contains(l, "range-exhausted") {
		t.Errorf("the exhausted range was not logged:\n%s", l)
	}
	// A restart reads the port back.
	store, err := portstore.Open(portstore.Options{Path: filepath.Join(s.opt.StateDir, "PortStore.txt"), Range: portservice.Range{Lo: 57000, Hi: 57009}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := store.Lookup(me.ID); !ok || e.Port != reg.Port {
		data, _ := os.ReadFile(filepath.Join(s.opt.StateDir, "PortStore.txt"))
		t.Errorf("reopened store has %+v, %v for %s, want port %d; file:\n%s", e, ok, me.ID, reg.Port, data)
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
				reg, err := portservice.Register(context.Background(), sock, me)
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
