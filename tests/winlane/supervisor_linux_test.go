package winlane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// TestSupervisorKeepsAgent runs the agent as the Run key starts it, through
// cardbridge-supervisor.exe, and ends the agent as a crash would
// (TerminateProcess, by taskkill /F): the supervisor starts it again, and
// the port service names the same port for it.
func TestSupervisorKeepsAgent(t *testing.T) {
	needLane(t)
	w := startRegisteredBy(t, "cardbridge-supervisor")
	starts := func() int {
		b, _ := os.ReadFile(filepath.Join(w.dir, "agent.log"))
		return strings.Count(string(b), `"message":"cardbridge agent starting"`)
	}
	if n := starts(); n != 1 {
		t.Fatalf("the agent's log holds %d starts, want 1", n)
	}
	out, err := inRoot("wine64", "taskkill", "/F", "/IM", "cardbridge.exe").CombinedOutput()
	if err != nil {
		t.Fatalf("taskkill /F /IM cardbridge.exe: %v\n%s", err, out)
	}
	testutil.WaitFor(t, 90*time.Second, 100*time.Millisecond, "the supervisor to start the agent again", func() bool { return starts() >= 2 })
	testutil.WaitFor(t, 90*time.Second, 200*time.Millisecond, "the restarted agent to serve and register", func() bool {
		b, _ := os.ReadFile(filepath.Join(w.dir, "agent.log"))
		return strings.Count(string(b), `"message":"serving"`) >= 2
	})
	if got := getPortNumber(t, w.psPort); got != w.port {
		t.Errorf("after the restart GetPortNumber names port %d, want the agent's %d", got, w.port)
	}
	if w.agent.exited() {
		t.Errorf("the supervisor exited; it printed:\n%s", w.agent.out.String())
	}
}
