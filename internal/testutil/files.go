package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cardbridge/cardbridge/internal/wine"
)

// SharedTempDir returns a new temporary directory that every local user may
// enter and read, removed when the test ends: for a socket, a log or a
// program another OS user must reach, since t.TempDir sits inside a directory
// only its owner can enter.
func SharedTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cardbridge-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CopyTestBinary copies the running test binary into dir as name, executable
// by every user, and returns its path: go test builds the binary in a
// directory only its owner can enter, so a test that runs itself as another
// OS user runs this copy, from a SharedTempDir.
func CopyTestBinary(t testing.TB, dir, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// Symlink makes path a symbolic link to target. It skips the test where
// links cannot be made (Windows without the privilege to make them), and
// under a Wine release that does not make them, naming that release (Wine
// 10's CreateSymbolicLinkW reports success and makes nothing); elsewhere a
// link that os.Lstat does not then report fails the test.
func Symlink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		wine.Lacks(t, fmt.Sprintf("os.Symlink (CreateSymbolicLinkW): %v", err))
		t.Skipf("cannot make a symbolic link: %v", err)
	}
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return
	}
	found := fmt.Sprint(err)
	if err == nil {
		found = "a file of mode " + fi.Mode().String()
	}
	wine.Lacks(t, fmt.Sprintf("os.Symlink (CreateSymbolicLinkW) reports success but makes no link: os.Lstat finds %s", found))
	t.Fatalf("os.Symlink made %s, but os.Lstat finds %s", path, found)
}
