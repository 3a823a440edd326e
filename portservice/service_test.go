package portservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

func TestLoadDomains(t *testing.T) {
	good := "# version: 3\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n"
	cases := []struct {
		name     string
		content  *string // nil: no file
		want     []string
		version  string
		rewrites bool
	}{
		{"missing", nil, []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"empty", ptr(""), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"clean", ptr(good), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "3", false},
		{"binary", ptr("\x00\xff\xfe\x01garbage\x00\n\x7f"), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"some bad lines", ptr("# version: 4\nhttps://a.example\nnot a url\n*.uk\nhttps://b.example:8443\n"), []string{"https://a.example", "https://b.example:8443"}, "4", true},
		{"truncated", ptr("# version: 5\nhttps://a.example\nhttps://b.exa"), []string{"https://a.example", "https://b.exa"}, "5", true},
		{"duplicates and CRLF", ptr("https://a.example\r\nhttps://a.example\r\n"), []string{"https://a.example"}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "DomainList.txt")
			if c.content != nil {
				if err := os.WriteFile(path, []byte(*c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var logs testutil.Buffer
			list := loadDomains(path, zerolog.New(&logs))
			var got []string
			for _, p := range list.Patterns() {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") || list.Version() != c.version {
				t.Errorf("list = %v version %q, want %v version %q", got, list.Version(), c.want, c.version)
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.rewrites {
				if !bytes.Equal(disk, list.Format()) {
					t.Errorf("file not rewritten clean:\n%q", disk)
				}
				if _, bad := domainlist.Parse(disk); len(bad) > 0 {
					t.Errorf("rewritten file still has bad lines: %v", bad)
				}
			} else if string(disk) != *c.content {
				t.Errorf("a clean file was rewritten: %q", disk)
			}
		})
	}
}

func ptr(s string) *string { return &s }

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

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
	dir := t.TempDir()
	opt := Options{StateDir: dir, Ports: []int{freePort(t)}, Lo: 57000, Hi: 57009, Socket: testSocket(dir), Logger: zerolog.New(logs)}
	if fl != nil {
		opt.portUsers = fl.users
		opt.listeners = fl.users
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("service did not stop")
		}
	})
	for i := 0; s.Port() == 0; i++ {
		if i > 500 {
			t.Fatal("service did not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, opt.Socket
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

func TestGetPortNumberAndSquatting(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	fl := &fakeListeners{owners: map[uint16]peercred.User{}}
	var logs testutil.Buffer
	s, sock := runService(t, fl, &logs)

	// Both casings, as NHS's two client libraries read them.
	const noAgent = `{"faultException":{"code":"PR30007","message":"Unable to find CM process for user"},"FaultException":{"Code":"PR30007","Message":"Unable to find CM process for user"}}`
	if _, body, _ := getPort(t, s, ""); strings.TrimSpace(body) != noAgent {
		t.Fatalf("no agent yet: %s, want %s", body, noAgent)
	}
	reg, err := Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if reg.Port != 57000 || !strings.Contains(reg.Domains, "https://my.esr.nhs.uk") {
		t.Fatalf("registered on %d with %q", reg.Port, reg.Domains)
	}
	fl.set(reg.Port, me)
	if err := reg.Listening(reg.Port); err != nil {
		t.Fatal(err)
	}
	port, body, hdr := getPort(t, s, "https://my.esr.nhs.uk")
	if port != reg.Port || hdr.Get("Access-Control-Allow-Origin") != "https://my.esr.nhs.uk" {
		t.Fatalf("GetPortNumber = %d (%s), headers %v", port, body, hdr)
	}
	if _, body, hdr := getPort(t, s, "https://evil.example"); !strings.Contains(body, "ORIGIN_NOT_ALLOWED") || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("evil origin: %s %v", body, hdr)
	}

	// Someone else takes the port (the agent lost it): the next
	// GetPortNumber moves the agent and answers with the new port.
	intruder := peercred.User{ID: "uid:4242"}
	fl.set(reg.Port, intruder)
	answered := make(chan int, 1)
	go func() { p, _, _ := getPort(t, s, ""); answered <- p }()
	var moved Message
	select {
	case moved = <-reg.Updates:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent was not told to move")
	}
	if moved.Type != MsgMove || moved.Port == reg.Port {
		t.Fatalf("move message %+v", moved)
	}
	fl.set(moved.Port, me)
	if err := reg.Listening(moved.Port); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-answered:
		if p != moved.Port {
			t.Errorf("GetPortNumber during the move answered %d, want %d", p, moved.Port)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GetPortNumber did not answer")
	}
	if l := logs.String(); !strings.Contains(l, `"event":"port-squatted"`) || !strings.Contains(l, `"squatter":"uid:4242"`) {
		t.Errorf("squatting not logged:\n%s", l)
	}

	// The same process registering again (an agent that re-executed itself
	// onto an upgraded binary) replaces its old registration and keeps the
	// port. A second agent process for the user is refused: that takes two
	// processes, so tests/portservice_test.go covers it.
	again, err := Register(context.Background(), sock, me)
	if err != nil {
		t.Fatalf("the same process registering again: %v", err)
	}
	if again.Port != moved.Port {
		t.Errorf("registered again on port %d, want %d", again.Port, moved.Port)
	}
	select {
	case _, ok := <-reg.Updates:
		for ok {
			_, ok = <-reg.Updates
		}
	case <-time.After(5 * time.Second):
		t.Error("the old registration was not closed")
	}
	if err := again.Listening(again.Port); err != nil {
		t.Fatal(err)
	}
	// Registering for someone else is refused.
	again.Close()
	reg.Close()
	time.Sleep(100 * time.Millisecond)
	if _, err := Register(context.Background(), sock, peercred.User{ID: "uid:4242"}); err == nil || !strings.Contains(err.Error(), CodeWrongUser) {
		t.Errorf("registration for another user: %v", err)
	}
}

func TestConnectAndVersionInfo(t *testing.T) {
	var logs testutil.Buffer
	s, _ := runService(t, nil, &logs)
	for path, want := range map[string]string{
		"/PRS/ConnectPRService": `{"statusCode":200}`, // a number: NHS's library tests statusCode === 200
		"/api/versioninfo":      `"product":"cardbridge-portservice"`,
		"/nothing":              `"BAD_REQUEST"`,
	} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", s.Port(), path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s = %s, want %s", path, b, want)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/PRS/ConnectPRService", s.Port()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/PRS/ConnectPRService", s.Port()), nil)
	req.Host = "evil.example"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("rebinding Host: %d", resp.StatusCode)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{StateDir: t.TempDir(), Lo: 60000, Hi: 50000},
		{StateDir: t.TempDir(), Lo: 100, Hi: 200},
		{StateDir: t.TempDir(), Ports: []int{55500}, Lo: 55000, Hi: 55999},
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) succeeded", opt)
		}
	}
}

// TestVersionInfoDomainListAgeAndTrustedURLError: versioninfo says when the
// list in force was saved and why the trusted URL's last check failed, and
// drops the error once a check succeeds.
func TestVersionInfoDomainListAgeAndTrustedURLError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "DomainList.txt")
	if err := os.WriteFile(path, []byte("# version: 1\nhttps://my.esr.nhs.uk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/api/versioninfo", func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"latestVersion":"1.0.0","domainListVersion":"2"}`)
	})
	mux.HandleFunc("/api/domainlist", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# version: 2\nhttps://my.esr.nhs.uk\nhttps://new.example\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var logs testutil.Buffer
	s, err := New(Options{StateDir: dir, Ports: []int{freePort(t)}, Socket: testSocket(dir), TrustedURL: srv.URL, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}

	vi := s.VersionInfo()
	if vi.DomainList.Updated == nil || !vi.DomainList.Updated.Equal(old) {
		t.Errorf("updated = %v, want the file's time %v", vi.DomainList.Updated, old)
	}
	if vi.TrustedURL.Checked != nil || vi.TrustedURL.Error != "" || vi.TrustedURL.LastSuccess != nil {
		t.Errorf("before any check: %+v", vi.TrustedURL)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.refresher.CheckNow(ctx); err == nil {
		t.Fatal("a check against a failing URL succeeded")
	}
	vi = s.VersionInfo()
	if vi.TrustedURL.Checked == nil || !strings.Contains(vi.TrustedURL.Error, "503") || vi.TrustedURL.LastSuccess != nil {
		t.Errorf("after a failed check: %+v", vi.TrustedURL)
	}
	if vi.DomainList.Version != "1" || !vi.DomainList.Updated.Equal(old) {
		t.Errorf("a failed check changed the list in force: %+v", vi.DomainList)
	}
	b, _ := json.Marshal(vi)
	if !strings.Contains(string(b), `"error":"`) || !strings.Contains(string(b), `"updated":"`) {
		t.Errorf("versioninfo JSON lacks error or updated: %s", b)
	}

	up.Store(true)
	before := time.Now()
	if err := s.refresher.CheckNow(ctx); err != nil {
		t.Fatal(err)
	}
	vi = s.VersionInfo()
	if vi.TrustedURL.Error != "" || vi.TrustedURL.LastSuccess == nil || vi.TrustedURL.DomainListVersion != "2" {
		t.Errorf("after a good check: %+v", vi.TrustedURL)
	}
	if vi.DomainList.Version != "2" || vi.DomainList.Updated.Before(before) {
		t.Errorf("the new list's time: %+v (check began %v)", vi.DomainList, before)
	}
	b, _ = json.Marshal(vi.TrustedURL)
	if strings.Contains(string(b), `"error"`) {
		t.Errorf("a good check still reports an error: %s", b)
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

	ports := []int{freePort(t), freePort(t), freePort(t)}
	squatter, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", ports[1]))
	if err != nil {
		t.Skip("no IPv6 loopback here:", err)
	}
	dir := t.TempDir()
	var logs testutil.Buffer
	s, err := New(Options{StateDir: dir, Ports: ports, Lo: 57000, Hi: 57009, Socket: testSocket(dir), Logger: zerolog.New(&logs)})
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
