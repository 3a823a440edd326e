//go:build !linux && !windows && !darwin

package logging

// DefaultDir is where cardbridge keeps a user's logs: ~/.cardbridge/logs.
func DefaultDir() (string, error) {
	return inHome(".cardbridge", "logs")
}
