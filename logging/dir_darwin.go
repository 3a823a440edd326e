package logging

// DefaultDir is where cardbridge keeps a user's logs: ~/Library/Logs/cardbridge.
func DefaultDir() (string, error) {
	return inHome("Library", "Logs", "cardbridge")
}
