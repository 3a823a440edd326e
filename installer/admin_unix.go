//go:build !windows

package installer

import "os"

// isAdmin reports whether the process may change system services.
func isAdmin() bool { return os.Geteuid() == 0 }

// setRecovery does nothing outside Windows: the systemd unit and launchd
// job carry their own restart settings.
func setRecovery(string) error { return nil }
