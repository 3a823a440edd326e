package logging

import (
	"errors"
	"os"
	"path/filepath"
)

// DefaultDir is where cardbridge keeps a user's logs:
// %LOCALAPPDATA%\cardbridge\logs.
func DefaultDir() (string, error) {
	d := os.Getenv("LOCALAPPDATA")
	if d == "" {
		return "", errors.New("LOCALAPPDATA is not set")
	}
	return filepath.Join(d, "cardbridge", "logs"), nil
}
