package wine

import (
	"errors"
	"strconv"
	"strings"
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

// TestMajor: under Wine the major version is the number before the first
// dot of Version; on Windows it is 0.
func TestMajor(t *testing.T) {
	v := Version()
	if v == "" {
		if Major() != 0 {
			t.Errorf("Major() = %d off Wine", Major())
		}
		return
	}
	if Major() < 1 || !strings.HasPrefix(v, strconv.Itoa(Major())+".") {
		t.Errorf("Major() = %d for Wine %q", Major(), v)
	}
}
