//go:build linux && cgo

package tests

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

// TestSupervisorProgram runs the built cardbridge-supervisor as the login
// entries do: it starts the cardbridge beside it on one processor, starts
// it again after a crash, and stops it when the session ends.
func TestSupervisorProgram(t *testing.T) {
	needPCSCD(t)
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	sup := exec.Command(installer.SupervisorProgram(filepath.Join(binDir, "cardbridge")), "--listen", addr, "--log", filepath.Join(dir, "agent.log"))
	sup.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
	var said testutil.Buffer
	sup.Stdout, sup.Stderr = &said, &said
	sup.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = sup.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = sup.Process.Kill()
		<-exited
	})

	first := servingChild(t, sup.Process.Pid, addr, 0, &said)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", first))
	if err != nil || exe != filepath.Join(binDir, "cardbridge") {
		t.Errorf("the supervisor runs %q (%v), want the cardbridge beside it", exe, err)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", first))
	if args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")[1:]; !slices.Equal(args, []string{"agent", "--listen", addr, "--log", filepath.Join(dir, "agent.log")}) {
		t.Errorf("the agent's arguments are %q", args)
	}
	environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", first))
	if !slices.Contains(strings.Split(string(environ), "\x00"), "GOMAXPROCS=1") {
		t.Errorf("the agent's environment lacks GOMAXPROCS=1")
	}

	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := servingChild(t, sup.Process.Pid, addr, first, &said)
	if !strings.Contains(said.String(), "the agent stopped (killed by a signal); starting it again") {
		t.Errorf("the supervisor said %q, want it to report the crash", said.String())
	}

	// The session ends.
	if err := sup.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("the supervisor ended with %v at the session's end, want exit 0; it said %q", waitErr, said.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the supervisor did not stop within 15 s of SIGTERM")
	}
	if err := syscall.Kill(second, 0); err == nil {
		t.Errorf("agent %d still runs after its supervisor stopped", second)
	}
}

// servingChild waits up to 20 s for a child of parent other than old to
// answer on addr, and returns its pid.
func servingChild(t *testing.T, parent int, addr string, old int, said *testutil.Buffer) int {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pid := testutil.ChildOf(parent); pid != 0 && pid != old {
			resp, err := client.Get("http://" + addr + "/api/versioninfo")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return pid
				}
			}
		}
	}
	t.Fatalf("no agent of supervisor %d answered on %s; it said %q", parent, addr, said.String())
	return 0
}
