package testutil

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// NeedGo skips t where there is no go command (a test binary run under
// Wine). Call it before any subtest that uses GoDeps, so that t skips as a
// whole.
func NeedGo(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the packages:", err)
	}
}

// GoDeps lists the packages the package in the current directory links
// when built for goos (go list -deps): natively with cgo as the
// environment has it, for another system without. It skips t where there
// is no go command (see NeedGo).
func GoDeps(t testing.TB, goos string) []string {
	t.Helper()
	NeedGo(t)
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "GOOS="+goos)
	if goos != runtime.GOOS {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps (GOOS=%s): %v", goos, err)
	}
	return strings.Fields(string(out))
}
