package testutil

import (
	"context"
	"errors"
	"testing"
	"time"
)

// RunBackground runs run in a goroutine for the rest of the test. When the
// test ends it cancels run's context and waits up to limit for run to
// return context.Canceled, failing the test, naming what ran, if it returns
// anything else or does not return in time.
func RunBackground(t testing.TB, what string, limit time.Duration, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s returned %v, want context.Canceled", what, err)
			}
		case <-time.After(limit):
			t.Errorf("%s did not return within %v of cancel", what, limit)
		}
	})
}
