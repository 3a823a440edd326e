package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
)

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
	reg, err := portservice.Register(context.Background(), sock, me)
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
	var moved portservice.Message
	select {
	case moved = <-reg.Updates:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent was not told to move")
	}
	if moved.Type != portservice.MsgMove || moved.Port == reg.Port {
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
	again, err := portservice.Register(context.Background(), sock, me)
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
	if _, err := portservice.Register(context.Background(), sock, peercred.User{ID: "uid:4242"}); err == nil || !strings.Contains(err.Error(), portservice.CodeWrongUser) {
		t.Errorf("registration for another user: %v", err)
	}
}

func TestConnectAndVersionInfo(t *testing.T) {
	var logs testutil.Buffer
	s, _ := runService(t, nil, &logs)
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/PRS/ConnectPRService", http.StatusOK, `{"statusCode":200}` + "\n"}, // a number: NHS's library tests statusCode === 200
		{"/PRS/GetPortNumber", http.StatusOK, `{"faultException":{"code":"PR30007"`},
		{"/api/versioninfo", http.StatusOK, `"product":"cardbridge-portservice"`},
		{"/nothing", http.StatusNotFound, `{"error":{"code":"BAD_REQUEST","message":"no such endpoint: GET /nothing"}}` + "\n"},
	} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", s.Port(), tt.path))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s = %d %s, want %d with %s", tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || resp.ContentLength != int64(len(b)) {
			t.Errorf("%s: Content-Type %q, Content-Length %d for %d bytes", tt.path, ct, resp.ContentLength, len(b))
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
	s, err := New(Options{StateDir: dir, Ports: []int{testutil.FreePort(t)}, Socket: testSocket(dir), TrustedURL: srv.URL, Logger: zerolog.New(&logs)})
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

// An agent that has exited while its registration still stands (its
// connection's end not yet seen, as on a host busy with a logon storm) does
// not keep the user's next agent out: the new one replaces it and keeps
// the user's port. One whose process runs still does (tests/portservice_test.go).
func TestRegisterReplacesAnExitedAgent(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	s, sock := runService(t, nil, &logs)
	first, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// Make the standing registration look like a gone process's.
	exe, _ := os.Executable()
	gone := exec.Command(exe, "-test.run=^$")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.regs[me.ID].pid = gone.Process.Pid
	s.mu.Unlock()
	next, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatalf("the user's next agent was refused: %v", err)
	}
	defer next.Close()
	if next.Port != first.Port {
		t.Errorf("the next agent got port %d, the user's is %d", next.Port, first.Port)
	}
	if !strings.Contains(logs.String(), "the user's previous agent has exited") {
		t.Errorf("the replacement is not logged:\n%s", logs.String())
	}
}
