package logging

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRotatingKeepsNewestFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "agent.log")
	r, err := openRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := fmt.Fprintf(r, "line %02d %s\n", i, strings.Repeat("x", 30)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(path)
	one, _ := os.ReadFile(path + ".1")
	two, _ := os.ReadFile(path + ".2")
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("kept a third rotated file; want 2")
	}
	if !bytes.Contains(cur, []byte("line 09")) || !bytes.Contains(one, []byte("line 06")) || !bytes.Contains(two, []byte("line 04")) {
		t.Errorf("files hold:\ncur %q\n.1 %q\n.2 %q", cur, one, two)
	}
	for _, b := range [][]byte{cur, one, two} {
		if len(b) > 100 {
			t.Errorf("a log file grew to %d bytes, limit 100", len(b))
		}
	}
	// Windows file modes hold only the read-only bit; there the log is private
	// by the ACL of the user's profile directory.
	st, _ := os.Stat(path)
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestNewWritesJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	no := false
	log, c, err := New(Options{File: path, Level: "warn", Stderr: &no})
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hidden")
	log.Warn().Str("reason", "origin not allowed").Msg("refused")
	c.Close()
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("hidden")) || !bytes.Contains(b, []byte(`"reason":"origin not allowed"`)) {
		t.Errorf("log = %s", b)
	}
	if _, _, err := New(Options{File: path, Level: "loud"}); err == nil {
		t.Error("accepted log level loud")
	}
}
