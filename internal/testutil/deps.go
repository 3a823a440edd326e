package testutil

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
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

// CheckLinks checks, for linux, windows and darwin (one subtest each), that
// the package in the current directory links want and none of forbidden.
func CheckLinks(t *testing.T, want string, forbidden ...string) {
	t.Helper()
	NeedGo(t)
	for _, goos := range []string{"linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			deps := GoDeps(t, goos)
			if !slices.Contains(deps, want) {
				t.Fatalf("the packages linked for %s do not include %s: %q", goos, want, deps)
			}
			for _, p := range forbidden {
				if slices.Contains(deps, p) {
					t.Errorf("built for %s, it links %s", goos, p)
				}
			}
		})
	}
}
