package portstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/portservice"
)

// ts formats t as the file does.
func ts(t time.Time) string { return t.Format(time.RFC3339) }

// Times used in the corrupt-file cases.
var (
	t1 = testNow.Add(-72 * time.Hour)
	t2 = testNow.Add(-48 * time.Hour)
	t3 = testNow.Add(-24 * time.Hour)
)

// line is a PortStore.txt line.
func line(user string, port int, t time.Time) string {
	return fmt.Sprintf("%s\t%d\t%s\n", user, port, ts(t))
}

const sid = "S-1-5-21-1004336348-1177238915-682003330-1001"

// hugeFile is a file over 1 MiB: 1,000 good lines, filler, and a good line
// beyond the first MiB that Open must not see.
func hugeFile() (string, []Entry) {
	var b strings.Builder
	var want []Entry
	for i := range 1000 {
		b.WriteString(line(fmt.Sprintf("uid:%d", 2000+i), 55000+i, t1))
		want = append(want, Entry{fmt.Sprintf("uid:%d", 2000+i), 55000 + i, t1})
	}
	for b.Len() < maxFileSize+maxFileSize/2 {
		b.WriteString(strings.Repeat("garbage ", 12) + "\n")
	}
	b.WriteString(line("uid:9", 55999, t1))
	return b.String(), want
}

func TestOpenCorruptFiles(t *testing.T) {
	huge, hugeWant := hugeFile()
	tests := []struct {
		name     string
		content  *string // nil: no file
		lo, hi   int
		want     []Entry
		warn     bool // at least one warning
		warnLine int  // a warning names this line (0: not checked)
		aside    bool // the file is moved aside, not only rewritten
	}{
		{
			name: "missing",
			want: nil,
		},
		{
			name:    "empty",
			content: new(""),
			want:    nil,
		},
		{
			name:    "clean",
			content: new(line("uid:1000", 55000, t1) + line(sid, 55001, t2)),
			want:    []Entry{{"uid:1000", 55000, t1}, {sid, 55001, t2}},
		},
		{
			name:     "truncated in the time",
			content:  new(line("uid:1000", 55000, t1) + "uid:1001\t55001\t2026-02-2"),
			want:     []Entry{{"uid:1000", 55000, t1}, {"uid:1001", 55001, testNow}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:     "truncated in the port",
			content:  new(line("uid:1000", 55000, t1) + "uid:1001\t550"),
			want:     []Entry{{"uid:1000", 55000, t1}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:     "truncated in the user",
			content:  new(line("uid:1000", 55000, t1) + "S-1-5-2"),
			want:     []Entry{{"uid:1000", 55000, t1}},
			warn:     true,
			warnLine: 2,
		},
		{
			name: "binary garbage",
			content: new("\x89PNG\r\n\x1a\n\xff\xfe\xfd\t\t\t\x01\x02\n" + line("uid:1000", 55000, t1) +
				"\xc3\x28\t55001\t" + ts(t1) + "\n" + "uid:1001\t\xff55002\t" + ts(t1) + "\n"),
			want:     []Entry{{"uid:1000", 55000, t1}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "NUL bytes",
			content:  new(line("uid:1000", 55000, t1) + strings.Repeat("\x00", 4000) + "\n" + "uid:1001\x00\t55001\t" + ts(t1) + "\n" + line("uid:1002", 55002, t2)),
			want:     []Entry{{"uid:1000", 55000, t1}, {"uid:1002", 55002, t2}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:     "only NUL bytes",
			content:  new(strings.Repeat("\x00", 8192)),
			want:     nil,
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "CRLF",
			content:  new(strings.ReplaceAll(line("uid:1000", 55000, t1)+line("uid:1001", 55001, t2), "\n", "\r\n")),
			want:     []Entry{{"uid:1000", 55000, t1}, {"uid:1001", 55001, t2}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "duplicated user",
			content:  new(line("uid:1000", 55000, t2) + line("uid:1001", 55001, t1) + line("uid:1000", 55002, t3) + line("uid:1000", 55003, t1)),
			want:     []Entry{{"uid:1001", 55001, t1}, {"uid:1000", 55002, t3}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "duplicated user with a bad time loses",
			content:  new(line("uid:1000", 55000, t1) + "uid:1000\t55001\tyesterday\n"),
			want:     []Entry{{"uid:1000", 55000, t1}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:     "two users with one port",
			content:  new(line("uid:1000", 55000, t3) + line(sid, 55000, t1) + line("uid:1001", 55001, t1) + line("uid:1002", 55001, t2)),
			want:     []Entry{{"uid:1000", 55000, t3}, {"uid:1002", 55001, t2}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:     "ports out of range",
			lo:       55000,
			hi:       55099,
			content:  new(line("uid:1000", 55000, t1) + line("uid:1001", 55100, t1) + line("uid:1002", 54999, t1) + line("uid:1003", 99999, t1) + line("uid:1004", 0, t1) + line("uid:1005", 55099, t1)),
			want:     []Entry{{"uid:1000", 55000, t1}, {"uid:1005", 55099, t1}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:    "a port outside the range marked outside is kept",
			content: new("uid:1001\t41234\t" + ts(t1) + "\toutside\n" + line("uid:1000", 55000, t1)),
			want:    []Entry{{"uid:1001", 41234, t1}, {"uid:1000", 55000, t1}},
		},
		{
			name: "ports marked outside",
			content: new(line("uid:1000", 55000, t1) + "uid:1001\t41234\t" + ts(t1) + "\toutside\n" + "uid:1002\t80\t" + ts(t1) + "\toutside\n" +
				"uid:1003\t55001\t" + ts(t1) + "\toutside\n" + "uid:1004\t41235\t" + ts(t1) + "\tinside\n" + "uid:1005\t70000\t" + ts(t1) + "\toutside\n"),
			want:     []Entry{{"uid:1001", 41234, t1}, {"uid:1000", 55000, t1}, {"uid:1003", 55001, t1}},
			warn:     true,
			warnLine: 3,
		},
		{
			name: "non-numeric ports",
			content: new(line("uid:1000", 55000, t1) + "uid:1001\tabc\t" + ts(t1) + "\n" + "uid:1002\t-55002\t" + ts(t1) + "\n" +
				"uid:1003\t+55003\t" + ts(t1) + "\n" + "uid:1004\t55004x\t" + ts(t1) + "\n" + "uid:1005\t0x d6d8\t" + ts(t1) + "\n" +
				"uid:1006\t99999999999999999999999\t" + ts(t1) + "\n" + "uid:1007\t5.5e4\t" + ts(t1) + "\n"),
			want:     []Entry{{"uid:1000", 55000, t1}},
			warn:     true,
			warnLine: 2,
		},
		{
			name:     "bad timestamps keep the port",
			content:  new("uid:1000\t55000\tnot-a-time\n" + "uid:1001\t55001\t2026-13-45T99:00:00Z\n" + "uid:1002\t55002\t1700000000\n" + "uid:1003\t55003\t2026-01-02 03:04:05\n"),
			want:     []Entry{{"uid:1000", 55000, testNow}, {"uid:1001", 55001, testNow}, {"uid:1002", 55002, testNow}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "future timestamps clamp to now",
			content:  new(line("uid:1000", 55000, testNow.Add(time.Hour)) + line("uid:1001", 55001, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)) + line("uid:1002", 55002, t1)),
			want:     []Entry{{"uid:1000", 55000, testNow}, {"uid:1001", 55001, testNow}, {"uid:1002", 55002, t1}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "huge file",
			content:  &huge,
			want:     hugeWant,
			aside:    true,
			warn:     true,
			warnLine: 1001,
		},
		{
			name:     "long lines",
			content:  new(line("uid:1000", 55000, t1) + strings.Repeat("x", 5000) + "\n" + "uid:1001\t55001\t" + ts(t1) + strings.Repeat(" ", maxLineLen) + "\n" + line("uid:1002", 55002, t1)),
			want:     []Entry{{"uid:1000", 55000, t1}, {"uid:1002", 55002, t1}},
			warn:     true,
			warnLine: 2,
		},
		{
			name: "bad user ids",
			content: new(line("root", 55000, t1) + line("uid:-1", 55001, t1) + line("uid:4294967296", 55002, t1) + line("uid:01000", 55003, t1) +
				line("S-1-5", 55004, t1) + line("s-1-5-21-1", 55005, t1) + line("S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", 55006, t1) +
				line("uid:", 55007, t1) + line("S-1-5-21-4294967296", 55008, t1) + line("uid:4294967295", 55009, t1) + line("S-1-5-18", 55010, t1) +
				line("S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14", 55011, t1)),
			want:     []Entry{{"uid:4294967295", 55009, t1}, {"S-1-5-18", 55010, t1}, {"S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14", 55011, t1}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "wrong number of fields",
			content:  new("uid:1000\t55000\n" + "uid:1001\t55001\t" + ts(t1) + "\textra\n" + "# a comment\n" + line("uid:1002", 55002, t1)),
			want:     []Entry{{"uid:1002", 55002, t1}},
			warn:     true,
			warnLine: 1,
		},
		{
			name:     "hand-edited layout",
			content:  new("\uFEFF  uid:1001   055001 \t " + t1.Add(500*time.Millisecond).Format(time.RFC3339Nano) + "  \n\n \t\n" + "uid:1000\t55000\t" + t2.In(time.FixedZone("BST", 3600)).Format(time.RFC3339) + "\n" + line(sid, 55002, t3)[:len(line(sid, 55002, t3))-1]),
			want:     []Entry{{"uid:1000", 55000, t2}, {"uid:1001", 55001, t1}, {sid, 55002, t3}},
			warn:     true,
			warnLine: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, storeName)
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log logSink
			s := open(t, path, tt.lo, tt.hi, &log)
			lo, hi := tt.lo, tt.hi
			if lo == 0 {
				lo, hi = defaultLo, defaultHi
			}
			if got := s.Entries(); !entriesEqual(got, tt.want) {
				t.Errorf("Entries() = %v\nwant %v", got, tt.want)
			}
			if s.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", s.Len(), len(tt.want))
			}
			for _, e := range tt.want {
				if got, ok := s.Lookup(e.User); !ok || got.Port != e.Port {
					t.Errorf("Lookup(%s) = %v, %v; want port %d", e.User, got, ok, e.Port)
				}
				if u, ok := s.userOf(e.Port); !ok || u != e.User {
					t.Errorf("userOf(%d) = %q, %v; want %s", e.Port, u, ok, e.User)
				}
			}
			checkFile(t, path, lo, hi, tt.want)
			warns := log.level("warn")
			if tt.warn && len(warns) == 0 {
				t.Errorf("no warning logged")
			}
			if !tt.warn && len(warns) != 0 {
				t.Errorf("warnings logged for a clean file:\n%s", &log)
			}
			if tt.warnLine != 0 && !log.warnedLine(tt.warnLine) {
				t.Errorf("no warning names line %d:\n%s", tt.warnLine, &log)
			}
			if tt.warn {
				found := false
				for _, ev := range warns {
					if strings.Contains(fmt.Sprint(ev["message"]), "rewriting") {
						found = true
					}
				}
				if !found {
					t.Errorf("the rewrite was not logged:\n%s", &log)
				}
			}
			aside := badFiles(t, dir)
			if tt.aside && len(aside) != 1 {
				t.Errorf("the file was not moved aside: directory holds %q", tempFiles(t, dir))
			}
			if n := tempFiles(t, dir); len(n) != len(aside) || !tt.aside && len(aside) != 0 {
				t.Errorf("directory holds %q besides the store", n)
			}
			// Opening the clean file again finds nothing to fix.
			var again logSink
			s2 := open(t, path, tt.lo, tt.hi, &again)
			if !entriesEqual(s2.Entries(), tt.want) {
				t.Errorf("reopened Entries() = %v, want %v", s2.Entries(), tt.want)
			}
			if w := again.level("warn"); len(w) != 0 {
				t.Errorf("reopening the rewritten file warned:\n%s", &again)
			}
		})
	}
}

func TestOpenLogsEachDroppedLine(t *testing.T) {
	var b strings.Builder
	for range 5 {
		b.WriteString("junk\n")
	}
	b.WriteString(line("uid:1", 55000, t1))
	path := filepath.Join(t.TempDir(), storeName)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var log logSink
	open(t, path, 0, 0, &log)
	for n := 1; n <= 5; n++ {
		if !log.warnedLine(n) {
			t.Errorf("line %d not logged:\n%s", n, &log)
		}
	}
	for _, ev := range log.level("warn") {
		if ev["line"] != nil && (ev["reason"] == nil || ev["reason"] == "") {
			t.Errorf("warning without a reason: %v", ev)
		}
	}
}

func TestOpenLogFloodBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	if err := os.WriteFile(path, bytes.Repeat([]byte("junk\n"), 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	var log logSink
	s := open(t, path, 0, 0, &log)
	if s.Len() != 0 {
		t.Errorf("Len() = %d, want 0", s.Len())
	}
	if n := len(log.level("warn")); n > maxLogged+5 {
		t.Errorf("%d warnings for one file, want at most about %d", n, maxLogged)
	}
	checkFile(t, path, defaultLo, defaultHi, nil)
}

func TestOpenRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeName)
	if err := os.WriteFile(filepath.Join(dir, ".PortStore.txt.tmp-123456"), []byte("uid:1\t55000\t"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(line("uid:1", 55001, t1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var log logSink
	open(t, path, 0, 0, &log)
	if n := tempFiles(t, dir); len(n) != 0 {
		t.Errorf("directory holds %q after Open", n)
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", storeName)
	var log logSink
	s := open(t, path, 0, 0, &log)
	if s.Len() != 0 {
		t.Errorf("Len() = %d", s.Len())
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if !isWindows && fi.Mode().Perm()&^0o022 != 0o755&^0o022 {
		t.Errorf("directory mode = %v, want 0755 less the umask", fi.Mode().Perm())
	}
	checkFile(t, path, defaultLo, defaultHi, nil)
	if len(log.level("info")) == 0 {
		t.Errorf("creating the file was not logged")
	}
}

func TestOpenFails(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  Options
	}{
		{"directory is a file", Options{Path: filepath.Join(file, storeName)}},
		{"no path", Options{}},
		{"range reversed", Options{Path: filepath.Join(dir, storeName), Range: portservice.Range{Lo: 2000, Hi: 1999}}},
		{"range too high", Options{Path: filepath.Join(dir, storeName), Range: portservice.Range{Lo: 1024, Hi: 65536}}},
		{"range from zero", Options{Path: filepath.Join(dir, storeName), Range: portservice.Range{Lo: 0, Hi: 10}}},
		{"range below 1024", Options{Path: filepath.Join(dir, storeName), Range: portservice.Range{Lo: 100, Hi: 2000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.opt)
			if err == nil {
				t.Fatalf("Open succeeded with %d entries", s.Len())
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "open port store") {
				t.Errorf("error %q does not name the operation", msg)
			}
		})
	}
	t.Run("wraps the cause", func(t *testing.T) {
		_, err := Open(Options{Path: filepath.Join(file, storeName)})
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Errorf("error %v does not wrap the *fs.PathError", err)
		}
	})
}

func TestOpenReadOnlyDirectory(t *testing.T) {
	if isWindows || os.Geteuid() == 0 {
		t.Skip("needs Unix permissions that bind the test's user")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, storeName)
	if err := os.WriteFile(path, []byte(line("uid:1", 55000, t1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if _, err := Open(Options{Path: path}); err == nil {
		t.Error("Open of a clean file in a read-only directory succeeded")
	}
}

func TestValidUser(t *testing.T) {
	tests := []struct {
		user string
		ok   bool
	}{
		{"uid:0", true},
		{"uid:1000", true},
		{"uid:4294967295", true},
		{sid, true},
		{"S-1-5-18", true},
		{"S-1-0-0", true},
		{"S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14", true},
		{"S-1-281474976710655-1", true},
		{"", false},
		{"uid:", false},
		{"uid:-1", false},
		{"uid:+1", false},
		{"uid:01", false},
		{"uid:4294967296", false},
		{"uid:1 ", false},
		{"UID:1", false},
		{"1000", false},
		{"root", false},
		{"S-1-5", false},
		{"S-1-5-", false},
		{"S-1-5--1", false},
		{"s-1-5-18", false},
		{"S-2-5-18", false},
		{"S-1-5-018", false},
		{"S-1-5-4294967296", false},
		{"S-1-281474976710656-1", false},
		{"S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", false},
		{"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", true},
		{"S-1-0x5-18", false},
		{"S-1-5-18\x00", false},
	}
	for _, tt := range tests {
		if got := validUser(tt.user); got != tt.ok {
			t.Errorf("validUser(%q) = %v, want %v", tt.user, got, tt.ok)
		}
	}
}
