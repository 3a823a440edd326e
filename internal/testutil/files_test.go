package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestSharedTempDir(t *testing.T) {
	var dir string
	t.Run("made", func(t *testing.T) {
		dir = SharedTempDir(t)
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			t.Fatalf("Stat(%s) = %v, %v; want a directory", dir, fi, err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %v, want 0755", dir, fi.Mode().Perm())
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after its test ended: %v", dir, err)
	}
}

func TestCopyTestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := CopyTestBinary(t, dir, "copy.test")
	if bin != filepath.Join(dir, "copy.test") {
		t.Errorf("CopyTestBinary = %s, want it in %s", bin, dir)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(bin)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the copy has %d bytes (%v), the test binary %d", len(got), err, len(want))
	}
	if fi, err := os.Stat(bin); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o755) {
		t.Errorf("Stat(%s) = %v, %v; want mode 0755", bin, fi, err)
	}
}

func TestSymlink(t *testing.T) {
	tests := []struct {
		name     string
		occupied bool // path exists already, so no link can be made there
	}{
		{name: "link made", occupied: false},
		{name: "path taken: skipped", occupied: true},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		target, path := filepath.Join(dir, "target"), filepath.Join(dir, "link")
		if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if tt.occupied {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		reached := false
		t.Run(tt.name, func(t *testing.T) {
			Symlink(t, target, path)
			reached = true
			if got, err := os.Readlink(path); err != nil || got != target {
				t.Errorf("Readlink(%s) = %q, %v; want %q", path, got, err, target)
			}
		})
		if tt.occupied && reached {
			t.Errorf("%s: Symlink on a taken path went on instead of skipping", tt.name)
		}
	}
}

func TestMkfifo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	reached := false
	t.Run("mkfifo", func(t *testing.T) {
		Mkfifo(t, path)
		reached = true
		if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("Lstat(%s) = %v, %v; want a named pipe", path, fi, err)
		}
	})
	if reached != hasFifos {
		t.Errorf("Mkfifo went on = %v, want %v on %s", reached, hasFifos, runtime.GOOS)
	}
}
