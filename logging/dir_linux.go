package logging

import (
	"os"
	"path/filepath"
)

// DefaultDir is where cardbridge keeps a user's logs:
// $XDG_STATE_HOME/cardbridge, normally ~/.local/state/cardbridge.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "cardbridge"), nil
	}
	return inHome(".local", "state", "cardbridge")
}
