//go:build !windows

package installer

// installEventSource: only Windows has an event log; the systemd journal
// and launchd need nothing registered.
func installEventSource() (string, error) { return "", nil }

// removeEventSource: see installEventSource.
func removeEventSource() (string, error) { return "", nil }
