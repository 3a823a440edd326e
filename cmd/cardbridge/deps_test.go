package main

import (
	"slices"
	"testing"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// TestAgentLinksNoPortService: the agent registers with the port service
// through package portservice alone. The service itself, its port store and
// its trusted-URL fetcher stay out of the cardbridge binary on every system it
// is built for.
func TestAgentLinksNoPortService(t *testing.T) {
	testutil.NeedGo(t)
	forbidden := []string{
		"github.com/cardbridge/cardbridge/portservice/server",
		"github.com/cardbridge/cardbridge/portservice/portstore",
		"github.com/cardbridge/cardbridge/portservice/trusted",
	}
	for _, goos := range []string{"linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			deps := testutil.GoDeps(t, goos)
			if !slices.Contains(deps, "github.com/cardbridge/cardbridge/portservice") {
				t.Fatalf("the agent's packages do not include portservice: %q", deps)
			}
			for _, p := range forbidden {
				if slices.Contains(deps, p) {
					t.Errorf("the agent links %s", p)
				}
			}
		})
	}
}
