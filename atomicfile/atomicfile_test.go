package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "PortStore.txt")
	want := []byte("uid:1000\t55000\t2026-01-02T03:04:05Z\n")
	if err := Write(path, want, 0o644); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("contents = %q, want %q", got, want)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
		}
	}
	if n := names(t, dir); !slices.Equal(n, []string{"PortStore.txt"}) {
		t.Errorf("directory holds %q, want only PortStore.txt", n)
	}
}

func TestWritePerm(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows file modes are only the read-only bit")
	}
	for _, perm := range []os.FileMode{0o600, 0o640, 0o644, 0o444} {
		t.Run(perm.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := Write(path, []byte("x"), perm); err != nil {
				t.Fatalf("Write: %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != perm {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), perm)
			}
		})
	}
}

func TestWriteOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "DomainList.txt")
	if err := os.WriteFile(path, []byte("a much longer old content that must not survive\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"new\n", "", "newer\n"} {
		if err := Write(path, []byte(want), 0o644); err != nil {
			t.Fatalf("Write(%q): %v", want, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("contents = %q, want %q", got, want)
		}
		if runtime.GOOS != "windows" {
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode = %v, want 0644 (the old file's 0600 must not carry over)", fi.Mode().Perm())
			}
		}
	}
	if n := names(t, dir); !slices.Equal(n, []string{"DomainList.txt"}) {
		t.Errorf("directory holds %q, want only DomainList.txt", n)
	}
}

func TestWriteMissingDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "PortStore.txt")
	err := Write(path, []byte("x"), 0o644)
	if err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	if n := names(t, dir); len(n) != 0 {
		t.Errorf("directory holds %q after a failed Write, want nothing", n)
	}
}

func TestWriteRenameFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "PortStore.txt")
	// A non-empty directory in the way makes the final rename fail.
	if err := os.MkdirAll(filepath.Join(path, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("x"), 0o644); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	if n := names(t, dir); !slices.Equal(n, []string{"PortStore.txt"}) {
		t.Errorf("directory holds %q after a failed Write, want only the directory in the way", n)
	}
}

func TestCleanup(t *testing.T) {
	dir := t.TempDir()
	keep := []string{
		"PortStore.txt",
		".PortStore.txt.tmp-",         // no digits: not ours
		".PortStore.txt.tmp-12x",      // not only digits
		".DomainList.txt.tmp-123",     // another file's temporary
		"PortStore.txt.tmp-123",       // no leading dot
		".PortStore.txt.tmp-1.bak",    // something else
		".PortStore.txt.tmp-99-saved", // something else
	}
	stale := []string{".PortStore.txt.tmp-1", ".PortStore.txt.tmp-4242424242"}
	for _, n := range append(slices.Clone(keep), stale...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A directory with a temporary's name is not removed.
	if err := os.Mkdir(filepath.Join(dir, ".PortStore.txt.tmp-7"), 0o755); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, ".PortStore.txt.tmp-7")

	Cleanup(dir, "PortStore.txt")

	got := names(t, dir)
	slices.Sort(keep)
	if !slices.Equal(got, keep) {
		t.Errorf("after Cleanup directory holds %q, want %q", got, keep)
	}
	Cleanup(filepath.Join(dir, "missing"), "PortStore.txt") // must not panic
}

func TestCleanupAfterWrite(t *testing.T) {
	// Write's own temporary names are the ones Cleanup removes.
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, tempPrefix("PortStore.txt")+"*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !isTemp(filepath.Base(f.Name()), tempPrefix("PortStore.txt")) {
		t.Fatalf("os.CreateTemp name %q is not recognised as a temporary", f.Name())
	}
	if err := Write(filepath.Join(dir, "PortStore.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	Cleanup(dir, "PortStore.txt")
	if n := names(t, dir); !slices.Equal(n, []string{"PortStore.txt"}) {
		t.Errorf("directory holds %q, want only PortStore.txt", n)
	}
}

func BenchmarkWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "PortStore.txt")
	data := make([]byte, 70*1000) // about 1,000 users' lines
	for b.Loop() {
		if err := Write(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
