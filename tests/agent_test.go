//go:build linux && cgo

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

// testDomainList is the allow-list the tests' agents use.
const testDomainList = `# version: test-1
https://my.esr.nhs.uk
https://*.spineservices.nhs.uk
`

// agentProc is a `cardbridge agent` process run by a test.
type agentProc struct {
	port int
	base string
	log  string
	cmd  *exec.Cmd
}

// agentRuntimeEnv is what the agent's supervisor, systemd user unit and
// launch agent add to its environment: the tests run it as it is deployed.
var agentRuntimeEnv = []string{"GOMAXPROCS=1"}

// startAgent runs the agent binary standalone, as it is deployed
// (agentRuntimeEnv), until the test ends.
func startAgent(t testing.TB, extraArgs ...string) *agentProc {
	t.Helper()
	return startAgentEnv(t, agentRuntimeEnv, extraArgs...)
}

// startAgentEnv is startAgent with env added to the test's environment
// instead of agentRuntimeEnv.
func startAgentEnv(t testing.TB, env []string, extraArgs ...string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	domains := filepath.Join(dir, "DomainList.txt")
	if err := os.WriteFile(domains, []byte(testDomainList), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{port: testutil.FreePort(t), log: filepath.Join(dir, "agent.log")}
	a.base = fmt.Sprintf("http://127.0.0.1:%d", a.port)
	args := append([]string{"agent", "--listen", fmt.Sprintf("127.0.0.1:%d", a.port), "--domains", domains, "--log", a.log, "--log-level", "debug"}, extraArgs...)
	a.cmd = exec.Command(filepath.Join(binDir, "cardbridge"), args...)
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if terminate(a.cmd, done) {
			t.Error("agent did not stop within 10s of SIGTERM")
		}
		if t.Failed() {
			b, _ := os.ReadFile(a.log)
			t.Logf("agent log:\n%s", b)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(a.base + "/api/versioninfo")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not answering after 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReaders waits until the agent lists n readers.
func (a *agentProc) waitReaders(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := a.get(t, "/api/readers", "")
		var rs api.Readers
		if json.Unmarshal(body, &rs) == nil && len(rs.Readers) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent lists %s, want %d readers", body, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches path from the agent with an optional Origin.
func (a *agentProc) get(t testing.TB, path, origin string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.base+path, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// events dials /api/events as an allowed page would.
func (a *agentProc) events(t testing.TB) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", a.port), http.Header{"Origin": {"https://my.esr.nhs.uk"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// nextWS reads messages until one of type typ (and reader, if given)
// arrives, failing on any other type not in skip.
func nextWS(t testing.TB, conn *websocket.Conn, typ, reader string, skip ...string) api.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = conn.SetReadDeadline(deadline)
		var ev api.Event
		if err := conn.ReadJSON(&ev); err != nil {
			t.Fatalf("waiting for %s %q: %v", typ, reader, err)
		}
		if ev.Type == typ && (reader == "" || ev.Reader == reader) {
			return ev
		}
		ok := false
		for _, s := range skip {
			ok = ok || s == ev.Type
		}
		if !ok {
			t.Fatalf("got %s %q, want %s %q", ev.Type, ev.Reader, typ, reader)
		}
	}
}

func TestAgentServesCard(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	c, _, _ := newCard(t, testCard{uuid: "555123456789"})
	insert(t, c, 0)
	// pcscd tells its clients of the insertion one by one, so the agent may
	// hear of it a moment after insert returns. The first answer that shows
	// the card must already carry its UUID: /api/card waits for the read.
	var status int
	var body []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body = a.get(t, "/api/card", "https://my.esr.nhs.uk")
		if status != 200 || strings.TrimSpace(string(body)) != `{"present":false}` || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var card api.Card
	if status != 200 || json.Unmarshal(body, &card) != nil || card.UUID != "555123456789" || card.Reader != reader0 {
		t.Fatalf("GET /api/card: %d %s", status, body)
	}
	status, body = a.get(t, "/api/readers", "")
	var rs api.Readers
	if status != 200 || json.Unmarshal(body, &rs) != nil || len(rs.Readers) != 2 || !rs.Readers[0].CardPresent || rs.Readers[1].CardPresent {
		t.Fatalf("GET /api/readers: %d %s", status, body)
	}
	status, body = a.get(t, "/", "")
	if status != 200 || !strings.Contains(string(body), "555123456789") {
		t.Errorf("status page: %d, UUID missing", status)
	}
	remove(t, c, 0)
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, body = a.get(t, "/api/card", "")
		if strings.TrimSpace(string(body)) == `{"present":false}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("card still shown after removal: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _ := a.get(t, "/api/card", "https://evil.example"); status != 403 {
		t.Errorf("evil origin got %d", status)
	}
}

func TestAgentEventsAcrossPCSCDRestart(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	a.waitReaders(t, 2)
	conn := a.events(t)
	snap := nextWS(t, conn, "snapshot", "")
	if len(snap.Readers) != 2 {
		t.Fatalf("snapshot readers = %+v", snap.Readers)
	}
	c, _, _ := newCard(t, testCard{uuid: "555000000061", alg: "p256"})
	if err := c.Insert("127.0.0.1:35963"); err != nil {
		t.Fatal(err)
	}
	ins := nextWS(t, conn, "card-inserted", reader0)
	upd := nextWS(t, conn, "card-updated", reader0)
	if ins.Card == nil || ins.Card.ATR == "" || upd.Card == nil || upd.Card.UUID != "555000000061" || upd.Seq != ins.Seq+1 {
		t.Fatalf("inserted %+v, updated %+v", ins.Card, upd.Card)
	}
	if err := bed.Kill(); err != nil {
		t.Fatal(err)
	}
	nextWS(t, conn, "pcsc-unavailable", "", "card-removed", "reader-removed")
	if status, body := a.get(t, "/api/card", ""); status != 503 || !strings.Contains(string(body), "PCSC_UNAVAILABLE") {
		t.Errorf("card while PC/SC is down: %d %s", status, body)
	}
	_ = c.Remove()
	if err := bed.Start(); err != nil {
		t.Fatal(err)
	}
	nextWS(t, conn, "pcsc-available", "")
	nextWS(t, conn, "reader-added", reader0)
	nextWS(t, conn, "reader-added", reader1)
	if err := c.Insert("127.0.0.1:35963"); err != nil {
		t.Fatal(err)
	}
	nextWS(t, conn, "card-inserted", reader0)
	if upd := nextWS(t, conn, "card-updated", reader0); upd.Card.UUID != "555000000061" {
		t.Errorf("after restart: %+v", upd.Card)
	}
}

// otherUser returns a second real OS user, creating it when missing.
func otherUser(t testing.TB) *user.User {
	t.Helper()
	const name = "cardbridge-test"
	u, err := user.Lookup(name)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd: %v %s", err, out)
		}
		if u, err = user.Lookup(name); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// runAs runs a binary as u and returns its output.
func runAs(t testing.TB, u *user.User, name string, args ...string) []byte {
	t.Helper()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s as %s: %v", name, u.Username, err)
	}
	return out
}

func TestAgentRefusesOtherUser(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000062"})
	insert(t, c, 0)
	u := otherUser(t)
	paths := []string{"/", "/api/versioninfo", "/api/readers", "/api/card", "/api/events", "/cardbridge.js", "/debug/stats"}
	for _, origin := range []string{"", "https://my.esr.nhs.uk"} {
		out := runAs(t, u, filepath.Join(binDir, "probe"), append([]string{"-base", a.base, "-origin", origin}, paths...)...)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(paths) {
			t.Fatalf("probe printed %d lines for %d paths:\n%s", len(lines), len(paths), out)
		}
		for _, line := range lines {
			var r struct {
				Path   string
				Status int
				Body   string
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			if r.Status != 403 || !strings.Contains(r.Body, `"code":"WRONG_USER"`) || strings.Contains(r.Body, "555000000062") {
				t.Errorf("%s from uid %s (origin %q): %d %s", r.Path, u.Uid, origin, r.Status, r.Body)
			}
		}
	}
	b, _ := os.ReadFile(a.log)
	// The first refusals of each minute are logged in full, the rest
	// counted (see TestRefusalFloodCannotFlushTheLog).
	if n := strings.Count(string(b), `"code":"WRONG_USER"`); n < 5 {
		t.Errorf("%d WRONG_USER refusals logged, want at least 5", n)
	}
	if !strings.Contains(string(b), "caller is uid:"+u.Uid) {
		t.Error("the refusal log does not name the caller's user")
	}
	// The agent's own user is still served.
	if status, body := a.get(t, "/api/card", "https://my.esr.nhs.uk"); status != 200 || !strings.Contains(string(body), "555000000062") {
		t.Errorf("own user after refusals: %d %s", status, body)
	}
}
