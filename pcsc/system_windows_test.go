package pcsc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/wine"
)

// TestSystemReaders asks Windows' own smart card service for its readers,
// through the real WinSCard calls. No service (Windows stops it while no
// reader is plugged in) and no readers are both fine; any other error, or no
// answer, is not.
func TestSystemReaders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := Readers(ctx)
	if wine.Running() {
		t.Logf("Readers() = %v, %v", rs, err)
		wine.SkipBefore(t, 10, "winscard.dll is a stub: SCardEstablishContext answers SCARD_F_INTERNAL_ERROR")
	}
	switch {
	case err == nil:
		for _, r := range rs {
			t.Logf("reader %q, card present: %v", r.Name, r.CardPresent)
		}
	case errors.Is(err, ErrUnavailable):
		t.Logf("no smart card service: %v", err)
	default:
		t.Fatalf("Readers: %v", err)
	}
}
