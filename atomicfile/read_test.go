package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// readResult is what ReadRegular returned.
type readResult struct {
	data []byte
	err  error
}

// readWithin calls ReadRegular in a goroutine and fails the test if it has not
// returned within 5 seconds, so that a read that blocks fails rather than hangs.
func readWithin(t *testing.T, path string, max int64) ([]byte, error) {
	t.Helper()
	done := make(chan readResult, 1)
	go func() {
		data, err := ReadRegular(path, max)
		done <- readResult{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadRegular(%s) still blocked after 5 s", path)
		return nil, nil
	}
}

// readCase is one file ReadRegular is given: setup makes it at path in dir.
type readCase struct {
	name     string
	at       string // read this path instead of the one setup makes
	setup    func(t *testing.T, dir, path string)
	max      int64
	want     []byte // the bytes returned
	wantErr  error  // nil: no error
	wantKind string // in the error message when not empty
}

// writeFile writes data to path.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runReadCases checks ReadRegular against each case.
func runReadCases(t *testing.T, cases []readCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "PortStore.txt")
			c.setup(t, dir, path)
			if c.at != "" {
				path = c.at
			}
			data, err := readWithin(t, path, c.max)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("ReadRegular = %q, %v; want error %v", data, err, c.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "read "+path) {
				t.Errorf("error %q does not name the operation and file", err)
			}
			if c.wantKind != "" && !strings.Contains(err.Error(), c.wantKind) {
				t.Errorf("error %q does not say it is a %s", err, c.wantKind)
			}
			if !bytes.Equal(data, c.want) {
				t.Errorf("ReadRegular returned %q, want %q", data, c.want)
			}
		})
	}
}

func TestReadRegular(t *testing.T) {
	secret := []byte("root:$6$secret-hash:19000:0:99999:7:::\n")
	runReadCases(t, []readCase{
		{
			name: "normal file",
			setup: func(t *testing.T, dir, path string) {
				writeFile(t, path, []byte("uid:1000\t55000\t2026-01-02T03:04:05Z\n"))
			},
			max:  1 << 20,
			want: []byte("uid:1000\t55000\t2026-01-02T03:04:05Z\n"),
		},
		{
			name:  "empty file",
			setup: func(t *testing.T, dir, path string) { writeFile(t, path, nil) },
			max:   1 << 20,
			want:  []byte{},
		},
		{
			name:  "exactly the limit",
			setup: func(t *testing.T, dir, path string) { writeFile(t, path, bytes.Repeat([]byte("a"), 100)) },
			max:   100,
			want:  bytes.Repeat([]byte("a"), 100),
		},
		{
			name:    "oversized file",
			setup:   func(t *testing.T, dir, path string) { writeFile(t, path, bytes.Repeat([]byte("a\n"), 1000)) },
			max:     100,
			want:    bytes.Repeat([]byte("a\n"), 50),
			wantErr: ErrTooLarge,
		},
		{
			name:    "missing",
			setup:   func(t *testing.T, dir, path string) {},
			max:     100,
			wantErr: fs.ErrNotExist,
		},
		{
			name: "directory",
			setup: func(t *testing.T, dir, path string) {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			max:      100,
			wantErr:  ErrNotRegular,
			wantKind: "directory",
		},
		{
			name: "symbolic link to a file outside",
			setup: func(t *testing.T, dir, path string) {
				outside := filepath.Join(t.TempDir(), "shadow")
				writeFile(t, outside, secret)
				symlink(t, outside, path)
			},
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "symbolic link",
		},
		{
			name: "symbolic link to a file beside it",
			setup: func(t *testing.T, dir, path string) {
				writeFile(t, filepath.Join(dir, "other"), secret)
				symlink(t, "other", path)
			},
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "symbolic link",
		},
	})
}

// symlink makes link point at target, skipping the test where the OS, the
// test's user or the Wine release cannot (testutil.Symlink).
func symlink(t *testing.T, target, link string) {
	t.Helper()
	testutil.Symlink(t, target, link)
}

func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "DomainList.txt")
	var names []string
	for range 3 {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(path, "inside"), []byte("x"))
		name, err := MoveAside(path)
		if err != nil {
			t.Fatalf("MoveAside: %v", err)
		}
		if filepath.Dir(name) != dir || !strings.HasPrefix(filepath.Base(name), "DomainList.txt.bad-") {
			t.Errorf("moved to %s, want %s/DomainList.txt.bad-...", name, dir)
		}
		if fi, err := os.Lstat(name); err != nil || !fi.IsDir() {
			t.Errorf("%s after the move: %v, %v", name, fi, err)
		}
		names = append(names, name)
	}
	if names[0] == names[1] || names[1] == names[2] || names[0] == names[2] {
		t.Errorf("three moves in a row share a name: %q", names)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still there after MoveAside: %v", path, err)
	}
	if _, err := MoveAside(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MoveAside of a missing file: %v, want fs.ErrNotExist", err)
	}
}
