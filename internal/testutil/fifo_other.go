//go:build !unix

package testutil

import "testing"

// Mkfifo makes a named pipe at path, or skips the test where the file system
// has none.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	t.Skip("no named pipes in the file system")
}
