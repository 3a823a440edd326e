package winlane

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// TestPCSCDRestart: the root's pcscd stops and starts again while the
// Windows agent watches; the agent serves the card put in afterwards.
func TestPCSCDRestart(t *testing.T) {
	needLane(t)
	c, _, _ := newCard(t, "555000000704", "p256")
	insert(t, c, 0)
	w := startRegistered(t)
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the card to be read", func() bool { return w.cardUUID(t) == "555000000704" })

	_ = c.Remove()
	lane.pcscd.stop()
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the agent to notice the PC/SC service has gone", func() bool { return w.cardUUID(t) == "" })
	time.Sleep(2 * time.Second) // the agent watches a service that is not there
	if err := startPCSCD(); err != nil {
		t.Fatal(err)
	}
	c2, _, _ := newCard(t, "555000000705", "rsa2048")
	insert(t, c2, 0)
	testutil.WaitFor(t, 90*time.Second, 50*time.Millisecond, "the agent to serve the card put in after pcscd came back", func() bool { return w.cardUUID(t) == "555000000705" })
	if w.agent.exited() {
		t.Fatal("the agent ended")
	}
}

// TestIdleAgentUnderWine reports how much CPU an idle Windows agent uses
// under Wine. Wine's SCardGetStatusChange returns at once with CHANGED,
// whatever state the caller already knows (Windows blocks until something
// changes), so the agent's watch loop would spin; its spin guard bounds the
// wake-ups. A loop without the guard would take a whole core.
func TestIdleAgentUnderWine(t *testing.T) {
	needLane(t)
	c, _, _ := newCard(t, "555000000706", "p256")
	insert(t, c, 0)
	// This agent logs where the Windows build logs by default
	// (--log given empty): %LOCALAPPDATA%\cardbridge\logs\agent.log.
	w := startRegistered(t, "--log=")
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the card to be read", func() bool { return w.cardUUID(t) == "555000000706" })
	defaultLog := filepath.Join(lane.prefix, "drive_c/users/root/AppData/Local/cardbridge/logs/agent.log")
	if b, err := os.ReadFile(defaultLog); err != nil || !strings.Contains(string(b), "cardbridge agent starting") {
		t.Errorf("the agent's default log %s: %v\n%s", defaultLog, err, b)
	}
	pid := w.agent.cmd.Process.Pid
	const idle = 5 * time.Second
	before := cpuTicks(t, pid)
	time.Sleep(idle)
	used := time.Duration(cpuTicks(t, pid)-before) * 10 * time.Millisecond // USER_HZ is 100
	share := float64(used) / float64(idle)
	fmt.Fprintf(os.Stderr, "winlane: %s: an idle Windows agent with a card used %.1f%% of a core over %v (SCardGetStatusChange returns at once under Wine; Windows blocks)\n", lane.wineVersion, 100*share, idle)
	if share > 0.25 {
		t.Errorf("the idle agent used %.0f%% of a core: the watch loop spins", 100*share)
	}
}

// cpuTicks is the user and system CPU time of pid, in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the parenthesised name: state is the first; utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		t.Fatalf("short /proc/%d/stat: %q", pid, b)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}
