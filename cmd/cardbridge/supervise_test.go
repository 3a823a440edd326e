package main

import (
	"os"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/internal/supervise"
)

// envRunMain makes this test binary behave as the cardbridge program: the
// supervise test runs it as the supervised agent.
const envRunMain = "CARDBRIDGE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fastRestarts shortens the restart pacing for a test.
func fastRestarts(t *testing.T) {
	old := []time.Duration{supervise.MinDelay, supervise.MaxDelay, supervise.Stable}
	supervise.MinDelay, supervise.MaxDelay, supervise.Stable = 20*time.Millisecond, 80*time.Millisecond, time.Hour
	t.Cleanup(func() { supervise.MinDelay, supervise.MaxDelay, supervise.Stable = old[0], old[1], old[2] })
}

// TestExitUsage: the supervisor's "bad flags, do not restart" is the exit
// code cardbridge gives a bad command line.
func TestExitUsage(t *testing.T) {
	if cli.ExitUsage != supervise.ExitUsage {
		t.Errorf("cli.ExitUsage %d, supervise.ExitUsage %d", cli.ExitUsage, supervise.ExitUsage)
	}
}
