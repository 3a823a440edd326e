package logging

import (
	"os"
	"path/filepath"
)

// DefaultDir is where cardbridge keeps a user's logs: ~/Library/Logs/cardbridge.
func DefaultDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "Logs", "cardbridge"), nil
}
