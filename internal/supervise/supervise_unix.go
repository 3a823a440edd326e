//go:build !windows

package supervise

import (
	"os"
	"os/exec"
	"syscall"
)

// detachConsole does nothing outside Windows.
func detachConsole() {}

// prepareChild leaves the child as it is: it shares the session and
// receives the same hang-up when the session ends.
func prepareChild(*exec.Cmd) {}

// stopChild asks the agent to stop as SIGTERM from a service manager would.
func stopChild(p *os.Process) { _ = p.Signal(syscall.SIGTERM) }
