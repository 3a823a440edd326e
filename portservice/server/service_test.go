package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// fakeListeners answers who listens where, for squatting tests.
type fakeListeners struct {
	mu     sync.Mutex
	owners map[uint16]peercred.User // port -> owner on 127.0.0.1
}

func (f *fakeListeners) users(port uint16) ([]peercred.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.owners[port]; ok {
		return []peercred.User{u}, nil
	}
	return nil, nil
}

func (f *fakeListeners) set(port int, u peercred.User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owners[uint16(port)] = u
}

var socketSeq atomic.Int64

// testSocket returns a local socket path for one test: a file in dir, or on
// Windows a named pipe, whose names live in a namespace of their own.
func testSocket(dir string) string {
	if runtime.GOOS == "windows" {
		return fmt.Sprintf(`\\.\pipe\cardbridge-test-%d-%d-%d`, os.Getpid(), time.Now().UnixNano(), socketSeq.Add(1))
	}
	return filepath.Join(dir, "ps.sock")
}

// runService runs a service in-process on a free well-known port.
func runService(t *testing.T, fl *fakeListeners, logs *testutil.Buffer) (*Service, string) {
	t.Helper()
	return runServiceWith(t, logs, func(opt *Options) {
		if fl != nil {
			opt.listeners = fl.users
		}
	})
}

// runServiceWith is runService with options changed by change.
func runServiceWith(t *testing.T, logs *testutil.Buffer, change func(*Options)) (*Service, string) {
	t.Helper()
	dir := t.TempDir()
	opt := Options{StateDir: dir, Ports: []int{testutil.FreePort(t)}, Range: portservice.Range{Lo: 57000, Hi: 57009}, Socket: testSocket(dir), Logger: zerolog.New(logs)}
	change(&opt)
	s, stop := startService(t, opt)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return s, opt.Socket
}

// startService runs a service made with opt until stop, which ends it and
// returns Run's error, or an error when Run has not returned 10 s later.
func startService(t *testing.T, opt Options) (s *Service, stop func() error) {
	t.Helper()
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("Run: %w", err)
			}
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("the service did not stop within 10 s")
		}
	})
	for i := 0; s.Port() == 0; i++ {
		if i > 500 {
			stop()
			t.Fatal("service did not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, stop
}

func getPort(t *testing.T, s *Service, origin string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/PRS/GetPortNumber", s.Port()), nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		PortData struct{ PortNumber int } `json:"portData"`
	}
	_ = json.Unmarshal(b, &body)
	return body.PortData.PortNumber, string(b), resp.Header
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{StateDir: t.TempDir(), Range: portservice.Range{Lo: 60000, Hi: 50000}},
		{StateDir: t.TempDir(), Range: portservice.Range{Lo: 100, Hi: 200}},
		{StateDir: t.TempDir(), Ports: []int{55500}, Range: portservice.Range{Lo: 55000, Hi: 55999}},
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) succeeded", opt)
		}
	}
}

// TestHoldsEveryWellKnownPort: the service serves every well-known port on
// both loopback families; one held by another program at start is logged
// as an error naming the holder, the others are served, and the held one
// is taken once it comes free.
func TestHoldsEveryWellKnownPort(t *testing.T) {
	old := reclaimEvery
	reclaimEvery = 100 * time.Millisecond
	t.Cleanup(func() { reclaimEvery = old })

	ports := []int{testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)}
	squatter, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", ports[1]))
	if err != nil {
		t.Skip("no IPv6 loopback here:", err)
	}
	dir := t.TempDir()
	var logs testutil.Buffer
	s, err := New(Options{StateDir: dir, Ports: ports, Range: portservice.Range{Lo: 57000, Hi: 57009}, Socket: testSocket(dir), Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for s.Port() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Served(); len(got) != 2 || got[0] != ports[0] || got[1] != ports[2] {
		t.Fatalf("serving %v, want %v and %v", got, ports[0], ports[2])
	}
	connect := func(host string, port int) error {
		resp, err := http.Get(fmt.Sprintf("http://%s/PRS/ConnectPRService", net.JoinHostPort(host, strconv.Itoa(port))))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for _, p := range []int{ports[0], ports[2]} {
		for _, host := range []string{"127.0.0.1", "::1"} {
			if err := connect(host, p); err != nil {
				t.Errorf("%s port %d: %v", host, p, err)
			}
		}
	}
	me, _ := peercred.Current()
	if l := logs.String(); !strings.Contains(l, `"level":"error"`) || !strings.Contains(l, fmt.Sprintf("well-known port %d", ports[1])) {
		t.Errorf("the held port was not logged as an error:\n%s", l)
	}
	// The holder is named where the OS tells who listens.
	if _, err := peercred.FindListener(netip.MustParseAddrPort(squatter.Addr().String())); err == nil && !strings.Contains(logs.String(), me.ID) {
		t.Errorf("the held port's error does not name %s:\n%s", me.ID, logs.String())
	}

	squatter.Close()
	for !slices.Contains(s.Served(), ports[1]) {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("port %d not taken after it came free; serving %v", ports[1], s.Served())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		if err := connect(host, ports[1]); err != nil {
			t.Errorf("%s port %d after it came free: %v", host, ports[1], err)
		}
	}
}

// TestRefusesASecondService: a port service that finds another cardbridge
// port service on one of its well-known ports refuses to start, names it,
// and leaves none of the others taken; another program there is only
// logged (TestHoldsEveryWellKnownPort).
func TestRefusesASecondService(t *testing.T) {
	var logs testutil.Buffer
	first, _ := runService(t, nil, &logs)
	free := testutil.FreePort(t)
	dir := t.TempDir()
	second, err := New(Options{StateDir: dir, Ports: []int{free, first.Port()}, Range: portservice.Range{Lo: 57010, Hi: 57019}, Socket: testSocket(dir), Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = second.Run(ctx)
	if !errors.Is(err, ErrAnotherService) || !strings.Contains(err.Error(), fmt.Sprintf("well-known port %d", first.Port())) {
		t.Fatalf("Run = %v; want ErrAnotherService naming port %d", err, first.Port())
	}
	l, lerr := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", free))
	if lerr != nil {
		t.Errorf("the refused service left port %d taken: %v", free, lerr)
	} else {
		l.Close()
	}
}

// startWithAgentUnregistered starts a service and connects an agent to
// it that has not sent its register message yet (the service is waiting
// for it); it returns the agent's connection, closed when the test ends,
// and the service's stop.
func startWithAgentUnregistered(t *testing.T, log zerolog.Logger) (net.Conn, func() error) {
	t.Helper()
	dir := t.TempDir()
	sock := testSocket(dir) // on Windows a new pipe name each call
	_, stop := startService(t, Options{StateDir: dir, Ports: []int{testutil.FreePort(t)}, Range: portservice.Range{Lo: 57000, Hi: 57009}, Socket: sock, Logger: log})
	nc, err := localsock.Dial(context.Background(), sock)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	time.Sleep(200 * time.Millisecond) // accepted, its register message awaited
	return nc, stop
}

// An agent whose registration is under way as the service stops does not
// hold the stop: its connection is closed with the rest, even when its
// register message arrives after the registered agents' were closed.
func TestStopsWithARegistrationUnderWay(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	nc, stop := startWithAgentUnregistered(t, zerolog.Nop())
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(50 * time.Millisecond) // the stop under way when the message comes
	c := localsock.NewConn(nc)
	_ = c.Send(portservice.Message{Type: portservice.MsgRegister, User: me.ID, PID: os.Getpid()}, time.Second)
	if err := <-stopped; err != nil {
		t.Fatalf("%v, while an agent kept its registration's connection open", err)
	}
}

// A registration the service's stop cuts short is not a refusal: admins
// read "refusing" in the log as an agent turned away, and in a logon storm
// a restart cuts short every registration under way.
func TestStopCutsARegistrationShortWithoutRefusing(t *testing.T) {
	var logs testutil.Buffer
	_, stop := startWithAgentUnregistered(t, zerolog.New(&logs))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "refusing") || !strings.Contains(logs.String(), "a registration under way was cut short") {
		t.Errorf("the stop's log:\n%s", logs.String())
	}
}
