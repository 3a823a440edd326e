package portstore

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/portservice"
)

// testNow is the fixed clock of most tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// statNow returns path's FileInfo with the file's identity read now. On
// Windows os.Stat leaves the file ID to be read by path when os.SameFile first
// needs it, by which time path may name a newer file.
func statNow(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	os.SameFile(fi, fi) // loads the ID
	return fi
}

// logSink collects a zerolog logger's events.
type logSink struct {
	mu     sync.Mutex
	events []map[string]any
}

// Write records one event; zerolog writes each event in one call.
func (l *logSink) Write(p []byte) (int, error) {
	var ev map[string]any
	if err := json.Unmarshal(p, &ev); err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	return len(p), nil
}

// logger returns a logger writing to l.
func (l *logSink) logger() zerolog.Logger {
	return zerolog.New(l).Level(zerolog.DebugLevel)
}

// level returns the events logged at level.
func (l *logSink) level(level string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, ev := range l.events {
		if ev["level"] == level {
			out = append(out, ev)
		}
	}
	return out
}

// warnedLine reports whether a warning names line n.
func (l *logSink) warnedLine(n int) bool {
	for _, ev := range l.level("warn") {
		if v, ok := ev["line"].(float64); ok && int(v) == n {
			return true
		}
	}
	return false
}

// String lists every event, for failure messages.
func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ev := range l.events {
		j, _ := json.Marshal(ev)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// userOf returns the user holding port.
func (s *Store) userOf(port int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.outside[port]; ok {
		return u, true
	}
	return s.ports.userOf(port)
}

// defaultLo and defaultHi bound the range a store opened without one uses.
var defaultLo, defaultHi = portservice.DefaultRange.Lo, portservice.DefaultRange.Hi

// open opens a store at path with the fixed clock, failing the test on error.
func open(t testing.TB, path string, lo, hi int, log *logSink) *Store {
	t.Helper()
	s, err := Open(Options{Path: path, Range: portservice.Range{Lo: lo, Hi: hi}, Logger: log.logger(), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// checkFile checks that the file at path is exactly what the store would
// write for want: it parses with no problems into want.
func checkFile(t testing.TB, path string, lo, hi int, want []Entry) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	got, probs := parse(data, false, portservice.Range{Lo: lo, Hi: hi}, testNow)
	if len(probs) != 0 {
		t.Errorf("file on disk has problems %+v:\n%s", probs, data)
	}
	if !entriesEqual(got, want) {
		t.Errorf("file on disk holds %v, want %v", got, want)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("file does not end with a newline: %q", data)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != fileMode && !isWindows {
		t.Errorf("file mode = %v, want %v", fi.Mode().Perm(), os.FileMode(fileMode))
	}
}

// entriesEqual compares entries, times with Equal.
func entriesEqual(a, b []Entry) bool {
	return slices.EqualFunc(a, b, func(x, y Entry) bool {
		return x.User == y.User && x.Port == y.Port && x.LastSeen.Equal(y.LastSeen)
	})
}

// tempFiles lists files in dir other than PortStore.txt.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != filepath.Base(storeName) {
			out = append(out, e.Name())
		}
	}
	return out
}

// badFiles lists the files in dir that Open or a write moved aside.
func badFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range tempFiles(t, dir) {
		if strings.HasPrefix(n, storeName+".bad-") {
			out = append(out, n)
		}
	}
	return out
}

// storeName is the file name tests use.
const storeName = "PortStore.txt"

// isWindows is true when file modes are only the read-only bit.
var isWindows = runtime.GOOS == "windows"
