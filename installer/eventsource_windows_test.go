package installer

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/windows/registry"

	"github.com/cardbridge/cardbridge/internal/wine"
)

// TestEventSource registers the port service's event source in the real
// registry as the MSI does, keeps an existing registration, and removes
// it. It changes HKLM, so it runs under Wine (a throw-away prefix, where
// the registry takes it without elevation) or on a test machine with
// CARDBRIDGE_TEST_SYSTEM=1 as an administrator, and never where the source
// is registered already (cardbridge installed).
func TestEventSource(t *testing.T) {
	if !wine.Running() && (os.Getenv("CARDBRIDGE_TEST_SYSTEM") != "1" || !isAdmin()) {
		t.Skip("changes HKLM: runs under Wine, or on a test machine with CARDBRIDGE_TEST_SYSTEM=1 as an administrator")
	}
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE); err == nil {
		k.Close()
		t.Skip("the event source is registered already: cardbridge is installed here")
	}
	where, err := installEventSource()
	if err != nil || where != `HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\cardbridge-portservice` {
		t.Fatalf("installEventSource = %q, %v", where, err)
	}
	t.Cleanup(func() { _, _ = removeEventSource() })
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	file, typ, err := k.GetStringValue("EventMessageFile")
	if err != nil || file != `%SystemRoot%\System32\EventCreate.exe` || typ != registry.EXPAND_SZ {
		t.Errorf("EventMessageFile = %q (type %d), %v; want the REG_EXPAND_SZ the MSI writes", file, typ, err)
	}
	if types, _, err := k.GetIntegerValue("TypesSupported"); err != nil || types != 7 {
		t.Errorf("TypesSupported = %d, %v; want 7 (error, warning, information)", types, err)
	}
	k.Close()

	if where, err := installEventSource(); err != nil || where != "" {
		t.Errorf("installing again: %q, %v; want the registration kept", where, err)
	}
	if where, err := removeEventSource(); err != nil || where == "" {
		t.Errorf("removeEventSource = %q, %v", where, err)
	}
	if _, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE); !errors.Is(err, registry.ErrNotExist) {
		t.Errorf("after removal, opening the key: %v; want not found", err)
	}
	if where, err := removeEventSource(); err != nil || where != "" {
		t.Errorf("removing again: %q, %v; want nothing to do", where, err)
	}
}
