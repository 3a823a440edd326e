package portstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAllocateOutside checks that a port outside the range, given when the
// range is exhausted, is kept on disk, survives a reopen, and is given up for
// a port of the range when the user is moved.
func TestAllocateOutside(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 55000, 55001, &log)
	for _, u := range []string{"uid:1", "uid:2"} {
		if _, err := s.Allocate(u, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Allocate("uid:3", nil); !errors.Is(err, ErrFull) {
		t.Fatalf("Allocate with the range full = %v, want ErrFull", err)
	}

	errCases := []struct {
		name string
		user string
		port int
		want error
	}{
		{"inside the range", "uid:3", 55001, ErrInRange},
		{"not a user", "bob", 41234, ErrBadUser},
		{"below 1024", "uid:3", 80, nil},
		{"above 65535", "uid:3", 70000, nil},
	}
	for _, c := range errCases {
		_, err := s.AllocateOutside(c.user, c.port)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: AllocateOutside(%s, %d) = %v, want %v", c.name, c.user, c.port, err, c.want)
		}
	}

	e, err := s.AllocateOutside("uid:3", 41234)
	if err != nil || e.Port != 41234 || e.User != "uid:3" {
		t.Fatalf("AllocateOutside = %+v, %v", e, err)
	}
	if _, err := s.AllocateOutside("uid:4", 41234); !errors.Is(err, ErrTaken) {
		t.Errorf("AllocateOutside of uid:3's port for uid:4 = %v, want ErrTaken", err)
	}
	if u, ok := s.userOf(41234); !ok || u != "uid:3" {
		t.Errorf("userOf(41234) = %q, %v", u, ok)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "uid:3\t41234\t") || !strings.Contains(string(data), "\toutside\n") {
		t.Errorf("file does not hold the outside port first, marked:\n%s", data)
	}
	checkFile(t, path, 55000, 55001, s.Entries())

	// A restart keeps it, and the user keeps it while it is usable.
	var again logSink
	s2 := open(t, path, 55000, 55001, &again)
	if w := again.level("warn"); len(w) != 0 {
		t.Errorf("reopening warned:\n%s", &again)
	}
	if e, err := s2.Allocate("uid:3", nil); err != nil || e.Port != 41234 {
		t.Errorf("Allocate after reopening = %+v, %v; want 41234", e, err)
	}

	// Once the range has a free port (here: a wider range), a move brings the
	// user back into it.
	var wider logSink
	s3 := open(t, path, 55000, 55002, &wider)
	e, err = s3.Reallocate("uid:3", nil)
	if err != nil || e.Port != 55002 {
		t.Fatalf("Reallocate = %+v, %v; want 55002", e, err)
	}
	if _, ok := s3.userOf(41234); ok {
		t.Error("the outside port is still held after the move")
	}
	checkFile(t, path, 55000, 55002, s3.Entries())
}
