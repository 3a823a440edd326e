package logging

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/eventlog"

	"github.com/cardbridge/cardbridge/internal/wine"
)

// hasEventLog: Windows has the event log.
const hasEventLog = true

// TestNewWithRegisteredEventSource: with its source registered as the MSI
// registers it, New opens the event log and the file holds no notice. It
// registers a test source under HKLM, so it runs under Wine (a throw-away
// prefix) or on a test machine with CARDBRIDGE_TEST_SYSTEM=1, as an
// administrator.
func TestNewWithRegisteredEventSource(t *testing.T) {
	if !wine.Running() && os.Getenv("CARDBRIDGE_TEST_SYSTEM") != "1" {
		t.Skip("changes HKLM: runs under Wine, or on a test machine with CARDBRIDGE_TEST_SYSTEM=1")
	}
	source := "cardbridge-test-" + strconv.Itoa(os.Getpid())
	if err := eventlog.InstallAsEventCreate(source, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		t.Skipf("cannot register a test event source (not an administrator?): %v", err)
	}
	t.Cleanup(func() {
		if err := eventlog.Remove(source); err != nil {
			t.Errorf("remove the test event source: %v", err)
		}
	})
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, EventSourceKey+`\`+source, registry.QUERY_VALUE)
	if err != nil {
		t.Fatalf("the registered source's key: %v", err)
	}
	k.Close()

	path := filepath.Join(t.TempDir(), "portservice.log")
	no := false
	log, c, err := New(Options{File: path, Stderr: &no, EventSource: source})
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Msg("a warning for the event log")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "unavailable") || !strings.Contains(string(b), "a warning for the event log") {
		t.Errorf("log file:\n%s", b)
	}
}
