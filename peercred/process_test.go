package peercred

import (
	"os"
	"os/exec"
	"testing"
)

// A running process exists; one that has exited and been reaped does not.
func TestProcessExists(t *testing.T) {
	if !ProcessExists(os.Getpid()) {
		t.Error("this process does not exist")
	}
	if ProcessExists(0) || ProcessExists(-1) {
		t.Error("pid 0 or -1 exists")
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if ProcessExists(cmd.Process.Pid) {
		t.Errorf("process %d exists after it exited", cmd.Process.Pid)
	}
}
