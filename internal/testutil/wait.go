package testutil

import (
	"testing"
	"time"
)

// WaitFor calls cond every tick until it holds, and fails the test, naming
// what it waited for, if it does not within limit.
func WaitFor(t testing.TB, limit, tick time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(tick)
	}
}
