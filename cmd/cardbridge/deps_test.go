package main

import (
	"testing"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// TestAgentLinksNoPortService: the agent registers with the port service
// through package portservice alone. The service itself, its port store and
// its trusted-URL fetcher stay out of the cardbridge binary on every system it
// is built for.
func TestAgentLinksNoPortService(t *testing.T) {
	testutil.CheckLinks(t, "github.com/cardbridge/cardbridge/portservice",
		"github.com/cardbridge/cardbridge/portservice/server",
		"github.com/cardbridge/cardbridge/portservice/portstore",
		"github.com/cardbridge/cardbridge/portservice/trusted")
}
