//go:build unix

package testutil

import (
	"syscall"
	"testing"
)

// Mkfifo makes a named pipe at path, or skips the test where the file system
// has none.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
}
