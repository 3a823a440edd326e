//go:build linux && cgo

package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

// buildAgent builds cardbridge with the given version into path.
func buildAgent(t *testing.T, path, version string) {
	t.Helper()
	out, err := exec.Command("go", "build", "-o", path, "-ldflags", "-X github.com/cardbridge/cardbridge/version.Version="+version, "../cmd/cardbridge").CombinedOutput()
	if err != nil {
		t.Fatalf("build cardbridge %s: %v\n%s", version, err, out)
	}
}

// installOver puts src at dst as package managers do: a new file renamed
// over the old one, which a running program keeps.
func installOver(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".new", dst); err != nil {
		t.Fatal(err)
	}
}

// agentVersion asks the agent on port for its version; "" when it does not
// answer.
func agentVersion(port int) string {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/versioninfo", port))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var vi api.VersionInfo
	if json.NewDecoder(resp.Body).Decode(&vi) != nil {
		return ""
	}
	return vi.Version
}

// TestAgentRestartsOntoUpgrade replaces a running, registered agent's
// executable as an upgrade does: first with a build that does not run,
// which the agent refuses, then with a working one, onto which it restarts
// in place: same process, same port from the port service, the card still
// served, and pages' WebSockets closed so that they reconnect.
func TestAgentRestartsOntoUpgrade(t *testing.T) {
	needPCSCD(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "cardbridge")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	buildAgent(t, exe, "9.0.0-old")
	newer := filepath.Join(dir, "cardbridge-new")
	buildAgent(t, newer, "9.0.1-new")

	ps := startPortService(t, filepath.Join(dir, "state"), testutil.FreePort(t), 56400, 56499)
	log := filepath.Join(dir, "agent.log")
	agent := exec.Command(exe, "agent", "--portservice", ps.socket, "--log", log, "--log-level", "debug", "--upgrade-check", "100ms")
	agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = agent.Wait(); close(exited) }()
	t.Cleanup(func() {
		terminate(agent, exited)
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("agent log:\n%s\nport service log:\n%s", b, ps.log())
		}
	})
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	port := getPortNumber(t, ps, me, true)
	if port == 0 {
		t.Fatal("the agent did not register")
	}
	testutil.WaitFor(t, 10*time.Second, 50*time.Millisecond, "the old agent to answer", func() bool { return agentVersion(port) == "9.0.0-old" })
	c, _, _ := newCard(t, testCard{uuid: "555000000099"})
	insert(t, c, 0)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", port), http.Header{"Origin": {"https://my.esr.nhs.uk"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	// A replacement that does not run is refused: the agent stays.
	if err := os.WriteFile(exe+".new", []byte("#!/bin/sh\necho 'Segmentation fault'\nexit 139\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, 50*time.Millisecond, "the agent to refuse the broken executable", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "the new one does not run")
	})
	if v := agentVersion(port); v != "9.0.0-old" {
		t.Fatalf("after a broken upgrade the agent answers %q, want 9.0.0-old", v)
	}

	// A working one: the agent restarts onto it.
	installOver(t, newer, exe)
	testutil.WaitFor(t, 20*time.Second, 50*time.Millisecond, "the agent to restart onto 9.0.1-new", func() bool { return agentVersion(port) == "9.0.1-new" })
	select {
	case <-exited:
		t.Fatalf("the agent process ended (%v); it should have restarted in place", agent.ProcessState)
	default:
	}
	if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", agent.Process.Pid)); err != nil || target != exe {
		t.Errorf("the agent process runs %q (%v), want the new %s", target, err, exe)
	}
	if p := getPortNumber(t, ps, me, true); p != port {
		t.Errorf("after the restart the port service gives port %d, want %d", p, port)
	}
	// The page's WebSocket was closed by the old image.
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Error("the WebSocket stayed open across the restart")
			}
			break
		}
	}
	testutil.WaitFor(t, 15*time.Second, 50*time.Millisecond, "the new agent to serve the card", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/card", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var card api.Card
		return json.NewDecoder(resp.Body).Decode(&card) == nil && card.UUID == "555000000099"
	})
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "restarting onto it") {
		t.Error("the restart was not logged")
	}
	if strings.Contains(ps.log(), "refusing a second agent") {
		t.Error("the port service refused the restarted agent")
	}
}
