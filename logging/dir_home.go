//go:build !windows

package logging

import (
	"os"
	"path/filepath"
)

// inHome is the path elem inside the user's home directory, where Unix-like
// systems keep a user's logs when nothing else says where.
func inHome(elem ...string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{home}, elem...)...), nil
}
