package main

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestAgentLinksNoPortService: the agent registers with the port service
// through package portservice alone. The service itself, its port store and
// its trusted-URL fetcher stay out of the cardbridge binary on every system it
// is built for.
func TestAgentLinksNoPortService(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the agent's packages:", err)
	}
	forbidden := []string{
		"github.com/cardbridge/cardbridge/portservice/server",
		"github.com/cardbridge/cardbridge/portservice/portstore",
		"github.com/cardbridge/cardbridge/portservice/trusted",
	}
	for _, goos := range []string{"linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			cmd := exec.Command(goTool, "list", "-deps", ".")
			cmd.Env = append(os.Environ(), "GOOS="+goos)
			if goos != runtime.GOOS {
				cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps: %v", err)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, "github.com/cardbridge/cardbridge/portservice") {
				t.Fatalf("the agent's packages do not include portservice; go list said:\n%s", out)
			}
			for _, p := range forbidden {
				if slices.Contains(deps, p) {
					t.Errorf("the agent links %s", p)
				}
			}
		})
	}
}
