//go:build unix

package localsock

import (
	"os"
	"path/filepath"
	"testing"
)

// testPath returns a socket path in a fresh directory, short enough for sun_path.
func testPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "localsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "ps.sock")
}
