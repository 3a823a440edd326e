package wine

import (
	"errors"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// TestVersion checks the ntdll export against the other sign of Wine, its
// registry key.
func TestVersion(t *testing.T) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `Software\Wine`, registry.QUERY_VALUE)
	if err == nil {
		k.Close()
	} else if !errors.Is(err, registry.ErrNotExist) {
		t.Fatalf("open HKLM\\Software\\Wine: %v", err)
	}
	hasKey := err == nil
	t.Logf("Version() = %q, HKLM\\Software\\Wine exists: %v", Version(), hasKey)
	if Running() != hasKey {
		t.Errorf("Running() = %v, but HKLM\\Software\\Wine exists: %v", Running(), hasKey)
	}
}
