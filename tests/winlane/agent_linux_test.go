package winlane

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

const origin = "https://my.esr.nhs.uk"

// windowsAgent is a Windows port service and a Windows agent registered
// with it, both under Wine.
type windowsAgent struct {
	psPort int // the port service's well-known port
	port   int // the agent's, from GetPortNumber
	agent  *proc
	dir    string
}

// startRegistered starts the Windows port service on a free port with its
// own pipe and state, then a Windows agent that registers with it, and
// waits until GetPortNumber, asked by a Windows process, names the agent's
// port. extra are more agent flags.
func startRegistered(t *testing.T, extra ...string) *windowsAgent {
	t.Helper()
	return startRegisteredBy(t, "cardbridge", extra...)
}

// startRegisteredBy is startRegistered with the agent started by program:
// cardbridge (as `cardbridge agent`), or cardbridge-supervisor as the Run
// key starts it (agent is then the supervisor).
func startRegisteredBy(t *testing.T, program string, extra ...string) *windowsAgent {
	t.Helper()
	dir := filepath.Join(lane.work, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w := &windowsAgent{psPort: testutil.FreePort(t), dir: dir}
	pipe := `\\.\pipe\cardbridge-lane-` + strconv.Itoa(w.psPort)
	startWindows(t, "cardbridge-portservice", "run",
		"--state-dir", winPath(filepath.Join(dir, "state")),
		"--ports", strconv.Itoa(w.psPort), "--range", "56700-56799",
		"--socket", pipe, "--log", winPath(filepath.Join(dir, "portservice.log")), "--log-level", "debug")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "portservice.log"))
			t.Logf("port service log:\n%s", b)
		}
	})
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the Windows port service to listen", func() bool { return testutil.Listening(w.psPort) })
	args := append([]string{"--portservice", pipe, "--log", winPath(filepath.Join(dir, "agent.log")), "--log-level", "debug"}, extra...)
	if program == "cardbridge" {
		args = append([]string{"agent"}, args...)
	}
	w.agent = startWindows(t, program, args...)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
			t.Logf("agent log:\n%s", b)
		}
	})
	testutil.WaitFor(t, 90*time.Second, 50*time.Millisecond, "GetPortNumber to name the registered agent's port", func() bool {
		w.port = getPortNumber(t, w.psPort)
		return w.port != 0
	})
	if w.port < 56700 || w.port > 56799 {
		t.Fatalf("GetPortNumber gave %d, outside the range 56700-56799", w.port)
	}
	return w
}

// getPortNumber asks the port service from a Windows process (probe.exe), so
// that the service finds the caller through GetExtendedTcpTable; 0 while
// it answers that no agent runs (PR30007).
func getPortNumber(t *testing.T, psPort int) int {
	t.Helper()
	out, err := runWindows(time.Minute, "probe", "-base", fmt.Sprintf("http://127.0.0.1:%d", psPort), "-origin", origin, "/PRS/GetPortNumber")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status int
		Body   string
		Err    string
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("probe.exe printed %q", out)
	}
	var body struct {
		PortData *struct {
			PortNumber int `json:"portNumber"`
		} `json:"portData"`
		Fault *struct{ Code string } `json:"faultException"`
	}
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &body) != nil {
		t.Fatalf("GetPortNumber: %d %s %s", r.Status, r.Body, r.Err)
	}
	if body.PortData != nil {
		return body.PortData.PortNumber
	}
	if body.Fault == nil || body.Fault.Code != "PR30007" {
		t.Fatalf("GetPortNumber: %s", r.Body)
	}
	return 0
}

// probeResult is one line of probe.exe's output.
type probeResult struct {
	Path   string
	Status int
	Body   string
	Err    string
}

// probe runs probe.exe against the agent, as the page at origin would, and
// returns its one result. The agent answers only its own user, which it
// finds from the caller's TCP connection: so the lane's callers are
// Windows programs, not the Linux host's.
func (w *windowsAgent) probe(t *testing.T, args ...string) probeResult {
	t.Helper()
	r, err := w.tryProbe(args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryProbe is probe for a goroutine other than the test's.
func (w *windowsAgent) tryProbe(args ...string) (probeResult, error) {
	args = append([]string{"-base", fmt.Sprintf("http://127.0.0.1:%d", w.port), "-origin", origin, "-wait", "2m"}, args...)
	out, err := runWindows(3*time.Minute, "probe", args...)
	if err != nil {
		return probeResult{}, err
	}
	var r probeResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("probe.exe %v printed %q", args, out)
	}
	return r, nil
}

// cardUUID is the UUID GET /api/card answers, "" without a card.
func (w *windowsAgent) cardUUID(t *testing.T) string {
	t.Helper()
	r := w.probe(t, "/api/card")
	if r.Status != 200 {
		return ""
	}
	var c struct {
		UUID string `json:"uuid"`
	}
	_ = json.Unmarshal([]byte(r.Body), &c)
	return c.UUID
}

// TestRegisteredAgent: a Windows agent registers with the Windows port
// service over its named pipe; GetPortNumber from another Windows process
// names the agent's port (the service found the caller's user through the
// owner of its TCP connection); the agent serves the card's UUID, and a
// WebSocket client hears the card leave.
func TestRegisteredAgent(t *testing.T) {
	needLane(t)
	c, _, _ := newCard(t, "555000000702", "p256")
	insert(t, c, 0)
	w := startRegistered(t)
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "GET /api/card to give the card's UUID", func() bool { return w.cardUUID(t) == "555000000702" })

	// A Windows WebSocket client, open before the card leaves.
	events := startWindows(t, "probe", "-base", fmt.Sprintf("http://127.0.0.1:%d", w.port), "-origin", origin,
		"-until", "card-removed", "-wait", "2m", "/api/events")
	testutil.WaitFor(t, time.Minute, 50*time.Millisecond, "the WebSocket to open", func() bool { return strings.Contains(events.out.String(), `"body":"connected"`) })
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, 50*time.Millisecond, "card-removed on the WebSocket", func() bool {
		return strings.Contains(events.out.String(), `\"type\":\"card-removed\"`)
	})
	if uuid := w.cardUUID(t); uuid != "" {
		t.Errorf("after removal GET /api/card still gives %s", uuid)
	}
}
