//go:build linux && cgo

package tests

// What another OS user on a shared host can do to a user's agent and to
// the port service, tried by a real second user (mallory) with the probe
// program: hold connections, flood refusals, squat ports.

import (
	"encoding/json"
	"errors"
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

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// mallory is the hostile second user of these tests.
func mallory(t *testing.T) *user.User {
	t.Helper()
	return namedUser(t, "cbmallory")
}

// hogAs runs `probe -hog n` against base as u and returns what it reports
// once every connection was tried; the connections stay open until the
// test ends.
func hogAs(t *testing.T, u *user.User, base string, n int) (opened, answered, open int) {
	t.Helper()
	line := startAs(t, u, 2*time.Minute, filepath.Join(binDir, "probe"), "-base", base, "-hog", strconv.Itoa(n))
	var r struct{ Opened, Answered, Open int }
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("probe -hog said %q", line)
	}
	return r.Opened, r.Answered, r.Open
}

// squatAs listens on addr as u until the test ends, and reports whether it
// could.
func squatAs(t *testing.T, u *user.User, addr string) bool {
	t.Helper()
	return strings.HasPrefix(startAs(t, u, 10*time.Second, filepath.Join(binDir, "probe"), "-hold", addr), "holding")
}

// openFDs counts the file descriptors of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// timedGet GETs url and returns how long the answer took, failing after 5 s.
func timedGet(t *testing.T, url string) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v after %v", url, err, time.Since(start))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start)
}

// TestAnotherUserCannotHoldAgentConnections: mallory opens 4,200
// connections to alice's agent, one request each, and tries to keep them;
// the agent answers each WRONG_USER and closes it, so alice is still served
// at once and the agent holds no descriptors for mallory.
func TestAnotherUserCannotHoldAgentConnections(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	before := openFDs(t, a.cmd.Process.Pid)
	opened, answered, open := hogAs(t, mallory(t), a.base, 4200)
	fds := openFDs(t, a.cmd.Process.Pid)
	took := timedGet(t, a.base+"/api/versioninfo")
	t.Logf("mallory opened %d connections (%d answered, %d still open); the agent has %d descriptors (%d before); alice's request took %v",
		opened, answered, open, fds, before, took)
	if open > 0 {
		t.Errorf("the agent kept %d of mallory's connections open", open)
	}
	if fds > before+50 {
		t.Errorf("the agent holds %d descriptors with mallory's connections, %d before", fds, before)
	}
	if took > time.Second {
		t.Errorf("alice's request took %v beside mallory's connections", took)
	}
}

// TestAnotherUserCannotStarveThePortService: mallory holds 4,200
// connections to the port service; they are bounded per user, so
// GetPortNumber still answers other users at once.
func TestAnotherUserCannotStarveThePortService(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	ps := startPortService(t, dir, testutil.FreePort(t), 56600, 56609)
	base := fmt.Sprintf("http://127.0.0.1:%d", ps.port)
	opened, answered, open := hogAs(t, mallory(t), base, 4200)
	took := timedGet(t, base+"/PRS/GetPortNumber")
	t.Logf("mallory opened %d connections (%d answered, %d still open); GetPortNumber for root took %v", opened, answered, open, took)
	if open > 64 {
		t.Errorf("the port service keeps %d of one user's connections open, want at most 64", open)
	}
	if took > time.Second {
		t.Errorf("GetPortNumber took %v beside mallory's connections", took)
	}
	if !strings.Contains(ps.log(), "connections from uid:") {
		t.Errorf("the refused connections were not logged:\n%s", testutil.Tail(ps.log(), 2000))
	}
}

// TestRefusalFloodCannotFlushTheLog: 5,000 refused requests, from another
// user and from a page with a bad Origin, write a few lines, not 5,000
// (about 1.5 MB without the limit).
func TestRefusalFloodCannotFlushTheLog(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	size := func() int64 {
		fi, err := os.Stat(a.log)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	out := runAs(t, mallory(t), filepath.Join(binDir, "probe"), "-base", a.base, "-flood", "5000")
	afterStranger := size()
	me, _ := user.Current()
	out2 := runAs(t, me, filepath.Join(binDir, "probe"), "-base", a.base, "-origin", "https://evil.example", "-flood", "5000")
	afterOrigin := size()
	t.Logf("another user's flood %s: the log grew %d bytes; a bad Origin's flood %s: %d bytes",
		strings.TrimSpace(string(out)), afterStranger-before, strings.TrimSpace(string(out2)), afterOrigin-afterStranger)
	for what, grew := range map[string]int64{"another user's flood": afterStranger - before, "a bad Origin's flood": afterOrigin - afterStranger} {
		if grew > 16<<10 {
			t.Errorf("%s of 5,000 requests grew the log by %d bytes", what, grew)
		}
	}
}

// TestStandaloneRefusesAHeldIPv6Port: mallory listens on [::1]:P; alice's
// standalone agent on localhost:P must not quietly serve IPv4 alone (her
// browser may try ::1 first and reach mallory) but fail, naming mallory.
func TestStandaloneRefusesAHeldIPv6Port(t *testing.T) {
	needPCSCD(t)
	m := mallory(t)
	port := testutil.FreePort(t)
	if !squatAs(t, m, fmt.Sprintf("[::1]:%d", port)) {
		t.Skipf("mallory cannot listen on [::1]:%d", port)
	}
	cmd := exec.Command(filepath.Join(binDir, "cardbridge"), "agent", "--listen", fmt.Sprintf("localhost:%d", port), "--log", filepath.Join(t.TempDir(), "agent.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(stderr.String(), "uid:"+m.Uid) || !strings.Contains(stderr.String(), "probe (pid ") {
			t.Errorf("the agent exited with %v, saying %q; want an error naming uid:%s and her process", err, stderr.String(), m.Uid)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the agent served localhost:%d beside mallory's [::1]:%d", port, port)
	}
}

// TestOptionsAsteriskIsRefused: "OPTIONS *" gets the Guard's answer, not
// net/http's: WRONG_USER for mallory, BAD_REQUEST for the agent's user.
func TestOptionsAsteriskIsRefused(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	me, _ := user.Current()
	for _, tc := range []struct {
		u    *user.User
		want string
	}{{mallory(t), "403"}, {me, "400"}} {
		out := strings.TrimSpace(string(runAs(t, tc.u, filepath.Join(binDir, "probe"), "-base", a.base, "-raw", "OPTIONS * HTTP/1.1")))
		if out != tc.want {
			t.Errorf("OPTIONS * as %s: %s, want %s", tc.u.Username, out, tc.want)
		}
	}
}

// TestPortServiceHoldsEveryWellKnownPort: mallory holds one of three
// well-known ports before the service starts; the service logs it as an
// error naming her and serves the other two on both families, so she
// cannot take those.
func TestPortServiceHoldsEveryWellKnownPort(t *testing.T) {
	needPCSCD(t)
	m := mallory(t)
	ports := []int{testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)}
	if !squatAs(t, m, fmt.Sprintf("127.0.0.1:%d", ports[1])) {
		t.Fatalf("mallory cannot hold port %d", ports[1])
	}
	dir := testutil.SharedTempDir(t)
	ps := &portService{dir: filepath.Join(dir, "state"), socket: filepath.Join(dir, "portservice.sock"), port: ports[0], lo: 56610, hi: 56619,
		extra: []string{"--ports", fmt.Sprintf("%d,%d,%d", ports[0], ports[1], ports[2])}}
	ps.start(t)
	t.Cleanup(func() { ps.stop(t) })
	if l := ps.log(); !strings.Contains(l, fmt.Sprintf("well-known port %d", ports[1])) || !strings.Contains(l, "uid:"+m.Uid) ||
		!strings.Contains(l, "probe (pid ") || !strings.Contains(l, `"level":"error"`) {
		t.Errorf("the held port was not logged as an error naming uid:%s and her process:\n%s", m.Uid, testutil.Tail(l, 2000))
	}
	for _, p := range []int{ports[0], ports[2]} {
		for _, host := range []string{"127.0.0.1", "[::1]"} {
			if squatAs(t, m, fmt.Sprintf("%s:%d", host, p)) {
				t.Errorf("mallory could listen on %s:%d beside the port service", host, p)
			}
		}
	}
}

// TestDomainListChangeClosesTheEventStream: an origin dropped from the
// agent's DomainList loses its open event stream as soon as the agent puts
// the new list in force (the --domains file is looked at every 2 s), and
// gets no more card events.
func TestDomainListChangeClosesTheEventStream(t *testing.T) {
	needPCSCD(t)
	a := startAgent(t)
	domains := filepath.Join(filepath.Dir(a.log), "DomainList.txt")
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(strings.Replace(a.base, "http", "ws", 1)+"/api/events", http.Header{"Origin": {"https://my.esr.nhs.uk"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var snapshot map[string]any
	if err := ws.ReadJSON(&snapshot); err != nil || snapshot["type"] != "snapshot" {
		t.Fatalf("snapshot: %v %v", snapshot, err)
	}
	if err := os.WriteFile(domains, []byte("# version: test-2\nhttps://*.spineservices.nhs.uk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m map[string]any
		err := ws.ReadJSON(&m)
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == websocket.ClosePolicyViolation {
			break
		}
		if err != nil {
			t.Fatalf("the stream ended with %v %v after the list changed, want a policy-violation close", err, time.Since(changed))
		}
		if m["type"] == "card-inserted" || m["type"] == "card-updated" {
			t.Fatalf("a card event reached the dropped origin: %v", m)
		}
	}
	// The file is looked at every 2 s, and loaded once it has stayed the
	// same for 250 ms; then the stream closes within a second.
	if took := time.Since(changed); took > 3500*time.Millisecond {
		t.Errorf("the stream closed %v after the list changed", took)
	}
	// The close is logged as it happens, which may be just after the
	// page sees it.
	const logged = "closed an event stream: its origin is no longer on the DomainList"
	var b []byte
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ = os.ReadFile(a.log); strings.Contains(string(b), logged) {
			break
		}
	}
	if !strings.Contains(string(b), logged) {
		t.Errorf("not logged:\n%s", testutil.Tail(string(b), 2000))
	}
}
