//go:build !linux && !windows && !darwin

package logging

import (
	"os"
	"path/filepath"
)

// DefaultDir is where cardbridge keeps a user's logs: ~/.cardbridge/logs.
func DefaultDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cardbridge", "logs"), nil
}
