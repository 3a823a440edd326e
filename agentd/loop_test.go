package agentd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// The loop's tests run it with doubles: a registration the test drives, an
// API that records where it serves, listeners that are not sockets, and a
// clock that does not wait.

// fakeRegistration is a registration whose service the test plays.
type fakeRegistration struct {
	port    int
	domains string
	updates chan portservice.Message
	// instead maps a held port to the one the service gives in its place.
	instead map[int]int

	mu        sync.Mutex
	listening []int // ports the agent said it listens on
	failed    []int // ports the agent said it could not bind
	closed    int
	listenErr error // what Listening returns: the service is gone
}

func newFakeRegistration(port int, domains string) *fakeRegistration {
	return &fakeRegistration{port: port, domains: domains, updates: make(chan portservice.Message), instead: map[int]int{}}
}

func (r *fakeRegistration) Port() int                           { return r.port }
func (r *fakeRegistration) Domains() string                     { return r.domains }
func (r *fakeRegistration) Updates() <-chan portservice.Message { return r.updates }

func (r *fakeRegistration) Listening(port int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listenErr != nil {
		return r.listenErr
	}
	r.listening = append(r.listening, port)
	return nil
}

func (r *fakeRegistration) BindFailed(_ context.Context, port int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, port)
	if p, ok := r.instead[port]; ok {
		return p, nil
	}
	return 0, &portservice.ServiceError{Code: portservice.CodeNoPort, Message: "no port left"}
}

func (r *fakeRegistration) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

// state is what the agent told this registration, and how often it closed it.
func (r *fakeRegistration) state() (listening, failed []int, closed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.listening), slices.Clone(r.failed), r.closed
}

// fakeListener stands for a loopback listener on a port.
type fakeListener struct {
	port   int
	closed chan struct{}
	once   sync.Once
}

func (l *fakeListener) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l *fakeListener) Close() error              { l.once.Do(func() { close(l.closed) }); return nil }
func (l *fakeListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.port} }

// fakeServer records the API being served: "serve P" when it starts on
// port P and "end P" when it stops there, closing the listeners as the
// API's Serve does.
type fakeServer struct {
	mu     sync.Mutex
	events []string
	fail   map[int]error // Serve on this port returns this error at once
	served chan int      // each port served on, as it starts
}

func (s *fakeServer) Serve(ctx context.Context, lns ...net.Listener) error {
	port := lns[0].Addr().(*net.TCPAddr).Port
	s.record(fmt.Sprintf("serve %d", port))
	s.served <- port
	if err := s.fail[port]; err != nil {
		return err
	}
	<-ctx.Done()
	closeAll(lns)
	s.record(fmt.Sprintf("end %d", port))
	return nil
}

func (s *fakeServer) record(ev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

func (s *fakeServer) history() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// testLoop is a loop with doubles, and what it did.
type testLoop struct {
	*loop
	srv  *fakeServer
	logs *testutil.Buffer

	mu      sync.Mutex
	held    map[int]bool // ports another program holds
	listens []int        // ports the loop listened on (or tried)
	waits   []time.Duration
	// regs answer the loop's registrations in turn: a registration, or an
	// error when nil (the service does not answer).
	regs []*fakeRegistration
	// connectedAtRegister is whether the loop said it was connected as it
	// registered again.
	connectedAtRegister []bool
}

func newTestLoop(t *testing.T) *testLoop {
	t.Helper()
	tl := &testLoop{srv: &fakeServer{served: make(chan int, 16), fail: map[int]error{}}, logs: &testutil.Buffer{}, held: map[int]bool{}}
	log := zerolog.New(tl.logs)
	domains, err := newDomainSource("", log)
	if err != nil {
		t.Fatal(err)
	}
	tl.loop = &loop{
		log:     log,
		srv:     tl.srv,
		domains: domains,
		register: func(context.Context) (registration, error) {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			tl.connectedAtRegister = append(tl.connectedAtRegister, tl.connected.Load())
			var r *fakeRegistration
			if len(tl.regs) > 0 {
				r, tl.regs = tl.regs[0], tl.regs[1:]
			}
			if r == nil {
				return nil, errors.New("reach the port service: connection refused")
			}
			return r, nil
		},
		listen: func(port int) ([]net.Listener, error) {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			tl.listens = append(tl.listens, port)
			if tl.held[port] {
				return nil, fmt.Errorf("%w: listen tcp 127.0.0.1:%d: address already in use", localhttp.ErrPortHeld, port)
			}
			return []net.Listener{&fakeListener{port: port, closed: make(chan struct{})}}, nil
		},
		after: func(d time.Duration) <-chan time.Time {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			tl.waits = append(tl.waits, d)
			c := make(chan time.Time, 1)
			c <- time.Time{}
			return c
		},
	}
	return tl
}

func (tl *testLoop) listened() []int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.listens)
}

// run opens the loop with reg as the service's first answer and serves
// until the test ends it; wait returns what serve returned.
func (tl *testLoop) run(t *testing.T, reg *fakeRegistration) (cancel func(), wait func() error) {
	t.Helper()
	tl.regs = append([]*fakeRegistration{reg}, tl.regs...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	first, lns, port, err := tl.open(ctx, "")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- tl.serve(ctx, first, lns, port) }()
	return cancel, func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not return within 10 s")
			return nil
		}
	}
}

// servedOn waits until the API serves on a port, and returns it.
func (tl *testLoop) servedOn(t *testing.T) int {
	t.Helper()
	select {
	case p := <-tl.srv.served:
		return p
	case <-time.After(10 * time.Second):
		t.Fatalf("the API was not served within 10 s; it did %q; log:\n%s", tl.srv.history(), tl.logs)
		return 0
	}
}

// waitListening waits until the agent tells reg it listens.
func (tl *testLoop) waitListening(t *testing.T, reg *fakeRegistration) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if l, _, _ := reg.state(); len(l) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not tell the registration it listens within 10 s; log:\n%s", tl.logs)
		}
	}
}

// A "move" stops serving on the old port, binds the new one once, tells
// the service, and serves there; a DomainList update changes the list in
// force without a rebind.
func TestLoopMove(t *testing.T) {
	tl := newTestLoop(t)
	reg := newFakeRegistration(55001, "https://first.example\n")
	cancel, wait := tl.run(t, reg)
	if p := tl.servedOn(t); p != 55001 {
		t.Fatalf("served first on %d, want 55001", p)
	}
	var told atomic.Int32
	changed := func() { told.Add(1) }
	tl.domains.onChange.Store(&changed)

	reg.updates <- portservice.Message{Type: portservice.MsgDomainList, DomainList: "# version: 7\nhttps://second.example\n"}
	reg.updates <- portservice.Message{Type: portservice.MsgMove, Port: 55002}
	if p := tl.servedOn(t); p != 55002 {
		t.Fatalf("served after the move on %d, want 55002", p)
	}
	if info := tl.domains.get(); info.Source != "portservice" || info.List.Version() != "7" || told.Load() != 1 {
		t.Errorf("list in force: source %q, version %q, onChange told %d times; want the update's, told once", info.Source, info.List.Version(), told.Load())
	}
	cancel()
	if err := wait(); err != nil {
		t.Errorf("serve = %v after ctx ended, want nil", err)
	}

	if got, want := tl.srv.history(), []string{"serve 55001", "end 55001", "serve 55002", "end 55002"}; !slices.Equal(got, want) {
		t.Errorf("the API did %q, want %q", got, want)
	}
	if got, want := tl.listened(), []int{55001, 55002}; !slices.Equal(got, want) {
		t.Errorf("listened on %v, want %v (each port bound once)", got, want)
	}
	listening, failed, closed := reg.state()
	if !slices.Equal(listening, []int{55001, 55002}) || len(failed) > 0 || closed != 1 {
		t.Errorf("the service was told listening %v, bind-failed %v, and closed %d times; want [55001 55002], none, once", listening, failed, closed)
	}
}

// A port service that goes away (a restart) between giving the agent its
// port and hearing that the agent listens there does not end the agent: it
// serves on that port and registers again, telling the next service.
func TestLoopServiceGoneBeforeListening(t *testing.T) {
	tl := newTestLoop(t)
	gone := newFakeRegistration(55001, "")
	gone.listenErr = errors.New("localsock: send: write: broken pipe")
	again := newFakeRegistration(55001, "")
	tl.regs = []*fakeRegistration{again}
	cancel, wait := tl.run(t, gone)
	if p := tl.servedOn(t); p != 55001 {
		t.Fatalf("served on %d, want 55001", p)
	}
	if _, _, closed := gone.state(); closed == 0 {
		t.Fatal("the registration of the service that went away was not closed")
	}
	close(gone.updates) // as closing a real registration ends its updates
	tl.waitListening(t, again)
	cancel()
	if err := wait(); err != nil {
		t.Errorf("serve = %v after ctx ended, want nil", err)
	}
	if got := tl.listened(); !slices.Equal(got, []int{55001}) {
		t.Errorf("listened on %v, want only 55001, once", got)
	}
	if !strings.Contains(tl.logs.String(), "could not tell the port service the agent listens; registering again") {
		t.Errorf("not logged:\n%s", tl.logs)
	}
}

// A port service that goes away leaves the API serving, uninterrupted,
// while the agent registers again with growing waits; given the same
// port back, the agent says it listens there and does not rebind.
func TestLoopRegistersAgainKeepingThePort(t *testing.T) {
	tl := newTestLoop(t)
	reg := newFakeRegistration(55001, "")
	again := newFakeRegistration(55001, "# version: 9\nhttps://after.example\n")
	// The service does not answer six times, then does.
	tl.regs = []*fakeRegistration{nil, nil, nil, nil, nil, nil, again}
	cancel, wait := tl.run(t, reg)
	tl.servedOn(t)

	close(reg.updates) // the service is gone
	tl.waitListening(t, again)
	if !tl.connected.Load() {
		t.Error("not connected after registering again")
	}
	if info := tl.domains.get(); info.List.Version() != "9" {
		t.Errorf("list in force has version %q, want the new registration's 9", info.List.Version())
	}
	cancel()
	if err := wait(); err != nil {
		t.Errorf("serve = %v after ctx ended, want nil", err)
	}

	if got, want := tl.srv.history(), []string{"serve 55001", "end 55001"}; !slices.Equal(got, want) {
		t.Errorf("the API did %q, want %q: served all along, on the same port", got, want)
	}
	if got := tl.listened(); !slices.Equal(got, []int{55001}) {
		t.Errorf("listened on %v, want only the first bind of 55001", got)
	}
	s := time.Second
	if want := []time.Duration{s / 2, s, 2 * s, 4 * s, 8 * s, 10 * s, 10 * s}; !slices.Equal(tl.waits, want) {
		t.Errorf("waited %v before the registrations, want %v", tl.waits, want)
	}
	if len(tl.connectedAtRegister) != 8 || slices.Contains(tl.connectedAtRegister, true) {
		t.Errorf("connected while registering: %v; want 8 registrations (the first and 7 again), not connected at any", tl.connectedAtRegister)
	}
	_, _, closedOld := reg.state()
	listening, _, closedNew := again.state()
	if closedOld != 1 || closedNew != 1 || !slices.Equal(listening, []int{55001}) {
		t.Errorf("old registration closed %d times, new one %d times and told listening %v; want 1, 1, [55001]", closedOld, closedNew, listening)
	}
}

// Registering again with a new port moves there by the same path as a
// "move".
func TestLoopRegistersAgainOnANewPort(t *testing.T) {
	tl := newTestLoop(t)
	reg := newFakeRegistration(55001, "")
	tl.regs = []*fakeRegistration{newFakeRegistration(55007, "")}
	cancel, wait := tl.run(t, reg)
	tl.servedOn(t)
	close(reg.updates)
	if p := tl.servedOn(t); p != 55007 {
		t.Fatalf("served after registering again on %d, want 55007", p)
	}
	cancel()
	if err := wait(); err != nil {
		t.Errorf("serve = %v", err)
	}
	if got, want := tl.srv.history(), []string{"serve 55001", "end 55001", "serve 55007", "end 55007"}; !slices.Equal(got, want) {
		t.Errorf("the API did %q, want %q", got, want)
	}
}

// A port another program holds is reported to the service (bind-failed),
// and the port it gives instead is bound and served, at the start and on
// a move; the port served is remembered as the agent's.
func TestLoopHeldPort(t *testing.T) {
	tl := newTestLoop(t)
	tl.held[55001], tl.held[55002] = true, true
	reg := newFakeRegistration(55001, "")
	reg.instead[55001], reg.instead[55002] = 55011, 55012
	again := newFakeRegistration(55012, "")
	tl.regs = []*fakeRegistration{again}
	cancel, wait := tl.run(t, reg)
	if p := tl.servedOn(t); p != 55011 {
		t.Fatalf("served first on %d, want 55011 (55001 is held)", p)
	}
	reg.updates <- portservice.Message{Type: portservice.MsgMove, Port: 55002}
	if p := tl.servedOn(t); p != 55012 {
		t.Fatalf("served after the move on %d, want 55012 (55002 is held)", p)
	}
	// Given back the port it serves on, the agent stays there.
	close(reg.updates)
	tl.waitListening(t, again)
	cancel()
	if err := wait(); err != nil {
		t.Errorf("serve = %v", err)
	}
	listening, failed, _ := reg.state()
	if !slices.Equal(failed, []int{55001, 55002}) || !slices.Equal(listening, []int{55011, 55012}) {
		t.Errorf("the service was told bind-failed %v and listening %v; want [55001 55002] and [55011 55012]", failed, listening)
	}
	if got, want := tl.listened(), []int{55001, 55011, 55002, 55012}; !slices.Equal(got, want) {
		t.Errorf("listened on %v, want %v", got, want)
	}
	if got, want := tl.srv.history(), []string{"serve 55011", "end 55011", "serve 55012", "end 55012"}; !slices.Equal(got, want) {
		t.Errorf("the API did %q, want %q", got, want)
	}
}

// bind gives up after bindAttempts held ports, or when the service has no
// other port, saying why.
func TestLoopBindGivesUp(t *testing.T) {
	tests := []struct {
		name      string
		instead   map[int]int
		wantErr   string
		wantTried []int
	}{
		{"every port held", map[int]int{1: 2, 2: 3, 3: 4, 4: 5, 5: 6}, "cannot listen on any port the port service gave: the port is held by another program", []int{1, 2, 3, 4, 5, 6}},
		{"no other port", map[int]int{1: 2}, "port service: NO_PORT: no port left", []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTestLoop(t)
			for p := range 10 {
				tl.held[p] = true
			}
			reg := newFakeRegistration(1, "")
			reg.instead = tt.instead
			lns, port, err := tl.bind(context.Background(), reg, 1)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || lns != nil || port != 0 {
				t.Errorf("bind = %v, %d, %v; want an error saying %q", lns, port, err, tt.wantErr)
			}
			if got := tl.listened(); !slices.Equal(got, tt.wantTried) {
				t.Errorf("tried %v, want %v", got, tt.wantTried)
			}
		})
	}
}

// A failure to serve ends the loop with it, and the registration closes.
func TestLoopServeFails(t *testing.T) {
	tl := newTestLoop(t)
	broken := errors.New("serve: accept: too many open files")
	tl.srv.fail[55001] = broken
	reg := newFakeRegistration(55001, "")
	_, wait := tl.run(t, reg)
	if err := wait(); !errors.Is(err, broken) {
		t.Errorf("serve = %v, want %v", err, broken)
	}
	if _, _, closed := reg.state(); closed != 1 {
		t.Errorf("registration closed %d times, want once", closed)
	}
}

// The first registration's failures say what to do.
func TestLoopOpenFails(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    string
		running bool
	}{
		{"no service", errors.New("reach the port service at /run/cardbridge/agent.sock: connection refused"),
			"connection refused\n(start cardbridge-portservice, or run standalone with --listen 127.0.0.1:43485)", false},
		{"already running", &portservice.ServiceError{Code: portservice.CodeAlreadyRunning, Message: "pid 4242"},
			"another cardbridge agent is already running for this user (pid 4242)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTestLoop(t)
			tl.register = func(context.Context) (registration, error) { return nil, tt.err }
			reg, lns, _, err := tl.open(context.Background(), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, portservice.ErrAlreadyRunning) != tt.running || reg != nil || lns != nil {
				t.Errorf("open = %v, %v, %v; want an error saying %q (already running: %v)", reg, lns, err, tt.want, tt.running)
			}
			if tl.connected.Load() {
				t.Error("connected after a failed registration")
			}
		})
	}
}

// An agent allowed to fall back serves standalone when no port service
// listens, and says so; it still fails when a service answers badly.
func TestLoopOpenFallsBackToStandalone(t *testing.T) {
	noService := fmt.Errorf("reach the port service at /run/cardbridge/portservice.sock: %w", localsock.ErrNoService)
	tl := newTestLoop(t)
	tl.fallback = "127.0.0.1:0"
	tl.register = func(context.Context) (registration, error) { return nil, noService }
	reg, lns, _, err := tl.open(context.Background(), "")
	if err != nil || reg != nil || len(lns) != 1 {
		t.Fatalf("open = %v, %v, %v; want one standalone listener", reg, lns, err)
	}
	closeAll(lns)
	if !strings.Contains(tl.logs.String(), "no port service: serving standalone") || !strings.Contains(tl.logs.String(), `"listen":"127.0.0.1:0"`) {
		t.Errorf("the fallback is not logged:\n%s", tl.logs)
	}

	tl = newTestLoop(t)
	tl.fallback = "127.0.0.1:0"
	tl.register = func(context.Context) (registration, error) { return nil, errors.New("port service: bad answer") }
	if _, lns, _, err := tl.open(context.Background(), ""); err == nil || lns != nil {
		t.Errorf("open with a service that answers badly = %v, %v; want the error", lns, err)
	}
	tl = newTestLoop(t) // no fallback: --portservice given
	tl.register = func(context.Context) (registration, error) { return nil, noService }
	if _, lns, _, err := tl.open(context.Background(), ""); !errors.Is(err, localsock.ErrNoService) || lns != nil {
		t.Errorf("open without fallback = %v, %v; want ErrNoService", lns, err)
	}
	// It gave up only after waiting for the service, awaitMax in all.
	var waited time.Duration
	for _, w := range tl.waits {
		waited += w
	}
	if waited < awaitMax || waited > awaitMax+awaitStep || tl.waits[0] != awaitMin {
		t.Errorf("waited %v in all (%v), want %v from %v up", waited, tl.waits, awaitMax, awaitMin)
	}
	if !strings.Contains(tl.logs.String(), "no port service yet; waiting for it") {
		t.Errorf("the wait is not logged:\n%s", tl.logs)
	}
}

// An agent told to use a port service that is not there yet (it is
// starting, or restarting for an upgrade) waits for it and registers when
// it answers, rather than failing and being started all over again.
func TestLoopOpenWaitsForTheService(t *testing.T) {
	noService := fmt.Errorf("reach the port service at /run/cardbridge/portservice.sock: %w", localsock.ErrNoService)
	tl := newTestLoop(t)
	reg := newFakeRegistration(55003, "# version: 9\nhttps://waited.example\n")
	gone := fmt.Errorf("register with the port service: %w: localsock: recv: EOF", portservice.ErrServiceGone)
	tries := 0
	tl.register = func(context.Context) (registration, error) {
		switch tries++; tries {
		case 1, 3:
			return nil, noService
		case 2: // a service that stopped while it was being asked
			return nil, gone
		}
		return reg, nil
	}
	got, lns, port, err := tl.open(context.Background(), "")
	if err != nil || got != reg || port != 55003 || len(lns) == 0 {
		t.Fatalf("open = %v, %v, %d, %v; want the registration the service gave on 55003", got, lns, port, err)
	}
	closeAll(lns)
	if want := []time.Duration{awaitMin, 2 * awaitMin, 4 * awaitMin}; !slices.Equal(tl.waits, want) {
		t.Errorf("waited %v, want %v", tl.waits, want)
	}
	if !tl.connected.Load() || !strings.Contains(tl.logs.String(), "the port service answered") {
		t.Errorf("connected %v; log:\n%s", tl.connected.Load(), tl.logs)
	}

	// A stop while it waits ends the wait.
	tl = newTestLoop(t)
	tl.register = func(context.Context) (registration, error) { return nil, noService }
	ctx, cancel := context.WithCancel(context.Background())
	tl.after = func(time.Duration) <-chan time.Time { cancel(); return make(chan time.Time) }
	if _, lns, _, err := tl.open(ctx, ""); !errors.Is(err, context.Canceled) || lns != nil {
		t.Errorf("open stopped while waiting = %v, %v; want context.Canceled", lns, err)
	}
}

// A registration the service cut short as it stopped is logged as that,
// not as a service that is not there yet: the helpdesk reading the log
// learns the service restarted.
func TestLoopOpenSaysTheServiceStopped(t *testing.T) {
	gone := fmt.Errorf("register with the port service: %w: localsock: recv: EOF", portservice.ErrServiceGone)
	reg := newFakeRegistration(55004, "")
	tl := newTestLoop(t)
	tries := 0
	tl.register = func(context.Context) (registration, error) {
		if tries++; tries == 1 {
			return nil, gone
		}
		return reg, nil
	}
	_, lns, port, err := tl.open(context.Background(), "")
	if err != nil || port != 55004 {
		t.Fatalf("open = %d, %v; want the port the service gave when it answered again", port, err)
	}
	closeAll(lns)
	logs := tl.logs.String()
	if !strings.Contains(logs, "the port service closed the registration (it is stopping); waiting for it to start again") ||
		strings.Contains(logs, "no port service yet") {
		t.Errorf("the wait is not logged as a stopping service:\n%s", logs)
	}
}

// A standalone port another cardbridge serves is named as such.
func TestLoopStandalonePortHeldByCardbridge(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/versioninfo" {
			_, _ = io.WriteString(w, `{"product":"cardbridge","version":"9.9.9"}`)
		}
	}))
	defer other.Close()
	tl := newTestLoop(t)
	_, lns, _, err := tl.open(context.Background(), other.Listener.Addr().String())
	port := other.Listener.Addr().(*net.TCPAddr).Port
	if want := fmt.Sprintf("another cardbridge agent (version 9.9.9) already serves on port %d", port); err == nil || !strings.Contains(err.Error(), want) || lns != nil {
		t.Errorf("open = %v, %v; want an error saying %q", lns, err, want)
	}
	if !errors.Is(err, localhttp.ErrPortHeld) {
		t.Errorf("open = %v, want it to wrap localhttp.ErrPortHeld", err)
	}
}
