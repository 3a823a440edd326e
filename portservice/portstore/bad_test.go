package portstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// secret stands for a file another user should never see a byte of, such as
// /etc/shadow.
const secret = "root:$6$Zm9vYmFyYmF6$c2VjcmV0LWhhc2gtdGhhdC1tdXN0LW5vdC1sZWFr:19000:0:99999:7:::\n"

// openWithin opens the store in a goroutine and fails the test if Open has not
// returned within 5 seconds, so that an Open that blocks fails rather than
// hangs.
func openWithin(t *testing.T, path string, log *logSink) *Store {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(Options{Path: path, Logger: log.logger(), Now: func() time.Time { return testNow }})
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Open: %v\n%s", r.err, log)
		}
		return r.s
	case <-time.After(5 * time.Second):
		t.Fatalf("Open of %s still blocked after 5 s", path)
		return nil
	}
}

// Something other than a regular file as PortStore.txt is moved aside and
// replaced by a clean file; the store opens and allocates, and nothing of a
// file it was pointed at reaches the log.
func TestOpenNotARegularFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, path string)
		found string // what the log says was found
	}{
		{"named pipe", func(t *testing.T, dir, path string) { testutil.Mkfifo(t, path) }, "named pipe"},
		{"directory", func(t *testing.T, dir, path string) {
			if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "directory"},
		{"symbolic link to a secret outside", func(t *testing.T, dir, path string) {
			target := filepath.Join(t.TempDir(), "shadow")
			if err := os.WriteFile(target, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			testutil.Symlink(t, target, path)
		}, "symbolic link"},
		{"symbolic link to a store beside it", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(filepath.Join(dir, "other"), []byte(line("uid:1", 55000, t1)), 0o644); err != nil {
				t.Fatal(err)
			}
			testutil.Symlink(t, "other", path)
		}, "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, storeName)
			tt.setup(t, dir, path)
			var log logSink
			s := openWithin(t, path, &log)
			if s.Len() != 0 {
				t.Errorf("Len() = %d, want an empty store", s.Len())
			}
			e := mustAllocate(t, s, "uid:1000", nil)
			if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("%s after Open: %v, %v; want a regular file", path, fi, err)
			}
			if got := onDisk(t, path); len(got) != 1 || got[0] != e {
				t.Errorf("file holds %v, want %v", got, e)
			}
			aside := badFiles(t, dir)
			if len(aside) != 1 {
				t.Fatalf("moved aside: %q, want one %s.bad-... file", aside, storeName)
			}
			if fi, err := os.Lstat(filepath.Join(dir, aside[0])); err != nil || fi.Mode().IsRegular() {
				t.Errorf("%s: %v, %v; want the %s that was there", aside[0], fi, err, tt.found)
			}
			logged := log.String()
			if !strings.Contains(logged, tt.found) || !strings.Contains(logged, aside[0]) {
				t.Errorf("the log does not say a %s was found and moved to %s:\n%s", tt.found, aside[0], logged)
			}
			if strings.Contains(logged, "root:") || strings.Contains(strings.ToLower(logged), "zm9v") {
				t.Errorf("the log holds the secret's content:\n%s", logged)
			}
		})
	}
}

// A directory put where the file was while the store is open is moved aside
// when the store next writes, and the write goes through.
func TestWriteMovesAsideWhatIsInTheWay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeName)
	var log logSink
	s := openWithin(t, path, &log)
	first := mustAllocate(t, s, "uid:1", nil)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	second := mustAllocate(t, s, "uid:2", nil)
	if got := onDisk(t, path); len(got) != 2 || got[0] != first || got[1] != second {
		t.Errorf("file holds %v, want %v and %v", got, first, second)
	}
	if aside := badFiles(t, dir); len(aside) != 1 || !strings.Contains(log.String(), aside[0]) {
		t.Errorf("moved aside %q; log:\n%s", aside, &log)
	}
}

// Dropped lines are logged by number and reason, never with their bytes.
func TestOpenLogsNoLineContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	content := secret +
		"uid:1\tnot-a-port-Zm9v\t" + ts(t1) + "\n" +
		"uid:2\t55001\tZm9v-not-a-time\n" +
		"S-1-Zm9v\t55002\t" + ts(t1) + "\n" +
		line("uid:3", 55003, t1)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var log logSink
	s := openWithin(t, path, &log)
	if s.Len() != 2 {
		t.Errorf("Len() = %d, want 2 (uid:2 with its time set to now, uid:3)", s.Len())
	}
	for n := 1; n <= 4; n++ {
		if !log.warnedLine(n) {
			t.Errorf("line %d not logged:\n%s", n, &log)
		}
	}
	if logged := log.String(); strings.Contains(logged, "root:") || strings.Contains(strings.ToLower(logged), "zm9v") {
		t.Errorf("the log quotes the file's lines:\n%s", logged)
	}
}
