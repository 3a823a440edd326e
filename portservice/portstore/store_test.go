package portstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/portservice"
)

// openClock opens a store at path with clock c.
func openClock(t testing.TB, path string, lo, hi int, c *testutil.Clock, log *logSink) *Store {
	t.Helper()
	s, err := Open(Options{Path: path, Range: portservice.Range{Lo: lo, Hi: hi}, Logger: log.logger(), Now: c.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// mustAllocate allocates a port for user, failing the test on error.
func mustAllocate(t testing.TB, s *Store, user string, unusable func(int) bool) Entry {
	t.Helper()
	e, err := s.Allocate(user, unusable)
	if err != nil {
		t.Fatalf("Allocate(%s): %v", user, err)
	}
	return e
}

// onDisk parses the store's file as Open would.
func onDisk(t testing.TB, path string) []Entry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, probs := parse(data, false, portservice.Range{Lo: 1, Hi: 65535}, time.Now().Add(1000*time.Hour))
	if len(probs) != 0 {
		t.Fatalf("file has problems %+v", probs)
	}
	return got
}

// portsOf returns user to port from entries.
func portsOf(es []Entry) map[string]int {
	m := make(map[string]int, len(es))
	for _, e := range es {
		m[e.User] = e.Port
	}
	return m
}

func TestAllocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	c := testutil.NewClock(testNow)
	var log logSink
	s := openClock(t, path, 0, 0, c, &log)

	a := mustAllocate(t, s, "uid:1000", nil)
	if a.Port != defaultLo || a.User != "uid:1000" || !a.LastSeen.Equal(testNow) {
		t.Errorf("first Allocate = %v, want uid:1000 on %d at %v", a, defaultLo, testNow)
	}
	// On disk before Allocate returned.
	if got := portsOf(onDisk(t, path)); got["uid:1000"] != defaultLo {
		t.Errorf("file after Allocate holds %v", got)
	}
	b := mustAllocate(t, s, sid, nil)
	if b.Port != defaultLo+1 {
		t.Errorf("second user got %d, want %d", b.Port, defaultLo+1)
	}
	c.Advance(90 * time.Minute)
	again := mustAllocate(t, s, "uid:1000", nil)
	if again.Port != a.Port {
		t.Errorf("Allocate of a known user moved it from %d to %d", a.Port, again.Port)
	}
	if want := testNow.Add(90 * time.Minute); !again.LastSeen.Equal(want) {
		t.Errorf("LastSeen = %v, want %v", again.LastSeen, want)
	}
	if e, ok := s.Lookup("uid:1000"); !ok || e != again {
		t.Errorf("Lookup = %v, %v; want %v", e, ok, again)
	}
	if u, ok := s.userOf(b.Port); !ok || u != sid {
		t.Errorf("userOf(%d) = %q, %v", b.Port, u, ok)
	}
	if _, ok := s.userOf(defaultLo + 2); ok {
		t.Errorf("userOf a free port found a user")
	}
	if _, ok := s.userOf(1); ok {
		t.Errorf("userOf a port outside the range found a user")
	}
	if _, ok := s.Lookup("uid:1"); ok {
		t.Errorf("Lookup of an unknown user found it")
	}
	if s.Len() != 2 {
		t.Errorf("Len() = %d, want 2", s.Len())
	}
	if w := log.level("warn"); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
}

func TestAllocateUnusable(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 1100, 1199, &log)

	busy := map[int]bool{1100: true, 1101: true, 1103: true}
	unusable := func(p int) bool { return busy[p] }
	a := mustAllocate(t, s, "uid:1", unusable)
	if a.Port != 1102 {
		t.Errorf("got %d, want 1102 (1100, 1101 unusable)", a.Port)
	}
	b := mustAllocate(t, s, "uid:2", unusable)
	if b.Port != 1104 {
		t.Errorf("got %d, want 1104", b.Port)
	}
	c := mustAllocate(t, s, "uid:3", nil)
	if c.Port != 1100 {
		t.Errorf("got %d, want 1100 (no unusable ports)", c.Port)
	}
	// uid:1's own port becomes unusable: it moves to the lowest usable free port.
	busy[1102] = true
	moved := mustAllocate(t, s, "uid:1", unusable)
	if moved.Port != 1105 {
		t.Errorf("uid:1 moved to %d, want 1105", moved.Port)
	}
	if _, ok := s.userOf(1102); ok {
		t.Errorf("old port 1102 still held")
	}
	if got := portsOf(onDisk(t, path)); got["uid:1"] != 1105 || len(got) != 3 {
		t.Errorf("file holds %v", got)
	}
	// A port freed below the others is found again.
	busy = nil
	d := mustAllocate(t, s, "uid:4", unusable)
	if d.Port != 1101 {
		t.Errorf("got %d, want 1101", d.Port)
	}
}

func TestReallocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	c := testutil.NewClock(testNow)
	var log logSink
	s := openClock(t, path, 0, 0, c, &log)
	a := mustAllocate(t, s, "uid:1", nil)
	mustAllocate(t, s, "uid:2", nil)
	c.Advance(time.Hour)

	r, err := s.Reallocate("uid:1", func(p int) bool { return p == defaultLo+2 })
	if err != nil {
		t.Fatalf("Reallocate: %v", err)
	}
	if r.Port == a.Port || r.Port != defaultLo+3 {
		t.Errorf("Reallocate gave %d, want %d", r.Port, defaultLo+3)
	}
	if !r.LastSeen.Equal(c.Now()) {
		t.Errorf("LastSeen = %v, want %v", r.LastSeen, c.Now())
	}
	if _, ok := s.userOf(a.Port); ok {
		t.Errorf("old port %d still held", a.Port)
	}
	if got := portsOf(onDisk(t, path)); got["uid:1"] != r.Port {
		t.Errorf("file holds %v, want uid:1 on %d", got, r.Port)
	}
	// Reallocating again takes the lowest free port, the one just given up.
	r2, err := s.Reallocate("uid:1", nil)
	if err != nil || r2.Port != a.Port {
		t.Errorf("second Reallocate = %v, %v; want port %d", r2, err, a.Port)
	}
	// A user without a port gets one.
	n, err := s.Reallocate(sid, nil)
	if err != nil || n.Port != defaultLo+2 {
		t.Errorf("Reallocate of a new user = %v, %v; want port %d", n, err, defaultLo+2)
	}
	if _, err := s.Reallocate("nobody", nil); !errors.Is(err, ErrBadUser) {
		t.Errorf("Reallocate(nobody) error = %v, want ErrBadUser", err)
	}
}

func TestErrFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 7000, 7002, &log)
	for i := range 3 {
		mustAllocate(t, s, fmt.Sprintf("uid:%d", i), nil)
	}
	_, err := s.Allocate("uid:3", nil)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Allocate in a full range: %v, want ErrFull", err)
	}
	if !strings.HasPrefix(err.Error(), "allocate port for uid:3: ") {
		t.Errorf("error %q does not name the operation", err)
	}
	if _, ok := s.Lookup("uid:3"); ok {
		t.Errorf("a refused user is in the store")
	}
	// A known user keeps its port in a full range.
	if e := mustAllocate(t, s, "uid:1", nil); e.Port != 7001 {
		t.Errorf("uid:1 got %d, want 7001", e.Port)
	}
	// ...but cannot move: it keeps the port it has.
	if _, err := s.Reallocate("uid:1", nil); !errors.Is(err, ErrFull) {
		t.Errorf("Reallocate in a full range: %v, want ErrFull", err)
	}
	if _, err := s.Allocate("uid:1", func(int) bool { return true }); !errors.Is(err, ErrFull) {
		t.Errorf("Allocate with its port unusable in a full range: %v, want ErrFull", err)
	}
	if e, ok := s.Lookup("uid:1"); !ok || e.Port != 7001 {
		t.Errorf("after a failed move uid:1 = %v, %v; want 7001", e, ok)
	}
	// Free ports that are all unusable are no better.
	s2 := open(t, filepath.Join(t.TempDir(), storeName), 7000, 7002, &log)
	if _, err := s2.Allocate("uid:1", func(int) bool { return true }); !errors.Is(err, ErrFull) {
		t.Errorf("Allocate with every port unusable: %v, want ErrFull", err)
	}
	if s2.Len() != 0 {
		t.Errorf("Len() = %d after a refused allocation", s2.Len())
	}
}

func TestErrFullFileSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 1024, 65535, &log)
	s.size = maxFileSize - 50 // as if the file were nearly 1 MiB
	if _, err := s.Allocate(sid, nil); !errors.Is(err, ErrFull) {
		t.Errorf("Allocate that would take the file over 1 MiB: %v, want ErrFull", err)
	}
}

func TestBadUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 0, 0, &log)
	for _, u := range []string{"", "root", "uid:", "uid:01", "uid:-1", "S-1-5", "s-1-5-18", "uid:1\t55000", "uid:1\n", strings.Repeat("9", 10000)} {
		if _, err := s.Allocate(u, nil); !errors.Is(err, ErrBadUser) {
			t.Errorf("Allocate(%q) error = %v, want ErrBadUser", u, err)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len() = %d", s.Len())
	}
	mustAllocate(t, s, "uid:0", nil)
	mustAllocate(t, s, "S-1-5-18", nil)
}

func TestTouchFlush(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeName)
	c := testutil.NewClock(testNow)
	var log logSink
	s := openClock(t, path, 0, 0, c, &log)
	mustAllocate(t, s, "uid:1", nil)
	mustAllocate(t, s, "uid:2", nil)
	before, _ := os.ReadFile(path)
	beforeInfo := statNow(t, path)

	c.Advance(time.Hour)
	s.Touch("uid:1")
	s.Touch("uid:404") // unknown: nothing happens
	if e, _ := s.Lookup("uid:1"); !e.LastSeen.Equal(c.Now()) {
		t.Errorf("LastSeen after Touch = %v, want %v", e.LastSeen, c.Now())
	}
	if s.Len() != 2 {
		t.Errorf("Touch of an unknown user changed Len to %d", s.Len())
	}
	// Touch does not write.
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("Touch wrote the file:\n%s", after)
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := onDisk(t, path)
	if !entriesEqual(got, s.Entries()) || !got[0].LastSeen.Equal(c.Now()) {
		t.Errorf("file after Flush = %v, want %v", got, s.Entries())
	}
	// Flush replaced the file; a second Flush, with nothing pending, does not.
	flushed := statNow(t, path)
	if os.SameFile(beforeInfo, flushed) {
		t.Errorf("Flush did not replace the file")
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	if again := statNow(t, path); !os.SameFile(flushed, again) {
		t.Errorf("Flush with nothing pending rewrote the file")
	}
	// A Touch reaches the disk with the next allocation too.
	c.Advance(time.Hour)
	s.Touch("uid:2")
	mustAllocate(t, s, "uid:3", nil)
	if got := onDisk(t, path); !got[1].LastSeen.Equal(c.Now()) {
		t.Errorf("uid:2's Touch not written with the next allocation: %v", got)
	}
	if n := tempFiles(t, dir); len(n) != 0 {
		t.Errorf("directory holds %q", n)
	}
}

func TestAllocateKnownUserDoesNotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 0, 0, &log)
	mustAllocate(t, s, "uid:1", nil)
	before := statNow(t, path)
	mustAllocate(t, s, "uid:1", nil)
	if after := statNow(t, path); !os.SameFile(before, after) {
		t.Errorf("Allocate of a user whose port is on disk rewrote the file")
	}
}

func TestExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	c := testutil.NewClock(testNow)
	var log logSink
	s := openClock(t, path, 0, 0, c, &log)
	mustAllocate(t, s, "uid:1", nil) // 55000, seen at now
	mustAllocate(t, s, "uid:2", nil) // 55001
	mustAllocate(t, s, "uid:3", nil) // 55002
	c.Advance(10 * 24 * time.Hour)
	s.Touch("uid:2")
	c.Advance(24 * time.Hour)

	if got := s.Expire(30 * 24 * time.Hour); got != nil {
		t.Errorf("Expire(30d) freed %v, want nothing", got)
	}
	freed := s.Expire(5 * 24 * time.Hour)
	want := []Entry{{"uid:1", 55000, testNow}, {"uid:3", 55002, testNow}}
	if !entriesEqual(freed, want) {
		t.Errorf("Expire(5d) = %v, want %v", freed, want)
	}
	if s.Len() != 1 {
		t.Errorf("Len() = %d, want 1", s.Len())
	}
	if _, ok := s.userOf(55000); ok {
		t.Errorf("expired port still held")
	}
	// Persisted: a fresh Open sees only uid:2.
	s2 := openClock(t, path, 0, 0, c, &log)
	if got := s2.Entries(); len(got) != 1 || got[0].User != "uid:2" || got[0].Port != 55001 {
		t.Errorf("after Expire and Open: %v", got)
	}
	// Freed ports are reused, lowest first.
	if e := mustAllocate(t, s, "uid:4", nil); e.Port != 55000 {
		t.Errorf("new user got %d, want the freed 55000", e.Port)
	}
	// A user seen exactly olderThan ago stays.
	if got := s.Expire(24 * time.Hour); got != nil {
		t.Errorf("Expire(24h) freed %v; uid:2 was seen exactly 24h ago", got)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	c := testutil.NewClock(testNow)
	var log logSink
	s := openClock(t, path, 0, 0, c, &log)
	for i := range 50 {
		mustAllocate(t, s, fmt.Sprintf("uid:%d", 1000+i), nil)
	}
	mustAllocate(t, s, sid, nil)
	if _, err := s.Reallocate("uid:1003", nil); err != nil {
		t.Fatal(err)
	}
	want := s.Entries()

	c.Advance(time.Hour)
	s2 := openClock(t, path, 0, 0, c, &log)
	if got := s2.Entries(); !entriesEqual(got, want) {
		t.Fatalf("after reopening: %v\nwant %v", got, want)
	}
	// Users keep their ports; a new user gets the lowest free one (uid:1003's old port).
	for _, e := range want {
		if got := mustAllocate(t, s2, e.User, nil); got.Port != e.Port {
			t.Errorf("%s moved from %d to %d", e.User, e.Port, got.Port)
		}
	}
	if e := mustAllocate(t, s2, "uid:9999", nil); e.Port != defaultLo+3 {
		t.Errorf("new user after reopening got %d, want %d", e.Port, defaultLo+3)
	}
	if w := log.level("warn"); len(w) != 0 {
		t.Errorf("warnings: %s", &log)
	}
}

func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeName)
	var log logSink
	s := open(t, path, 0, 0, &log)
	const goroutines, perG = 40, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG*2)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				user := fmt.Sprintf("uid:%d", g*perG+i)
				e, err := s.Allocate(user, nil)
				if err != nil {
					errs <- err
					continue
				}
				// Reading while others write.
				if u, ok := s.userOf(e.Port); !ok || u != user {
					errs <- fmt.Errorf("userOf(%d) = %q, %v right after %s got it", e.Port, u, ok, user)
				}
				if i%5 == 0 {
					if _, err := s.Reallocate(user, nil); err != nil {
						errs <- err
					}
				}
				s.Touch(user)
				if i%7 == 0 {
					if err := s.Flush(); err != nil {
						errs <- err
					}
				}
				_ = s.Entries()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := s.Entries()
	if len(got) != goroutines*perG {
		t.Fatalf("%d entries, want %d", len(got), goroutines*perG)
	}
	seen := map[int]string{}
	for _, e := range got {
		if u, dup := seen[e.Port]; dup {
			t.Errorf("port %d held by %s and %s", e.Port, u, e.User)
		}
		seen[e.Port] = e.User
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if disk := onDisk(t, path); !entriesEqual(disk, got) {
		t.Errorf("file differs from the store")
	}
	if n := tempFiles(t, dir); len(n) != 0 {
		t.Errorf("directory holds %q", n)
	}
}

func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeName)
	var log logSink
	s := open(t, path, 0, 0, &log)
	mustAllocate(t, s, "uid:1", nil)
	// With the directory gone every write fails (a directory where the file
	// was is moved aside instead: see TestWriteMovesAsideWhatIsInTheWay).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocate("uid:2", nil); err == nil {
		t.Fatal("Allocate succeeded although the file cannot be written")
	} else if !strings.HasPrefix(err.Error(), "allocate port for uid:2: replace ") {
		t.Errorf("error %q", err)
	}
	// Not acknowledged, so a retry must write again rather than return at once.
	if _, err := s.Allocate("uid:2", nil); err == nil {
		t.Fatal("retried Allocate succeeded although the file cannot be written")
	}
	if err := s.Flush(); err == nil {
		t.Error("Flush succeeded although the file cannot be written")
	}
	if freed := s.Expire(-time.Hour); len(freed) != 2 {
		t.Errorf("Expire freed %v", freed)
	}
	if len(log.level("error")) == 0 {
		t.Errorf("the failed write after Expire was not logged")
	}
	// Once the file can be written again, the next write catches up.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := mustAllocate(t, s, "uid:3", nil)
	if got := onDisk(t, path); len(got) != 1 || got[0] != e {
		t.Errorf("file after recovery = %v, want only %v", got, e)
	}
	if n := tempFiles(t, dir); len(n) != 0 {
		t.Errorf("directory holds %q", n)
	}
}

// TestAllocateChecksUnlocked: while one allocation asks whether a port is
// usable (the port service asks the OS, which takes a while on a busy
// host), other users' allocations and lookups go on, pass that port over,
// and the waiting allocation then gets the port it asked about.
func TestAllocateChecksUnlocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 1100, 1199, &log)
	mustAllocate(t, s, "uid:0", nil) // 1100

	asked, answer := make(chan int, 1), make(chan bool)
	type result struct {
		e   Entry
		err error
	}
	slow := make(chan result, 1)
	go func() {
		e, err := s.Allocate("uid:1", func(p int) bool { asked <- p; return <-answer })
		slow <- result{e, err}
	}()
	var checking int
	select {
	case checking = <-asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the first allocation never asked about a port")
	}
	if checking != 1101 {
		t.Fatalf("asked about %d, want 1101", checking)
	}

	done := make(chan Entry, 1)
	go func() {
		done <- mustAllocate(t, s, "uid:2", nil)
		_, _ = s.Lookup("uid:0")
	}()
	select {
	case e := <-done:
		if e.Port == checking {
			t.Errorf("uid:2 got %d, the port uid:1's allocation is asking about", e.Port)
		}
		if e.Port != 1102 {
			t.Errorf("uid:2 got %d, want 1102", e.Port)
		}
	case <-time.After(5 * time.Second):
		answer <- false
		t.Fatal("another user's allocation waited for the first one's question")
	}

	answer <- false // usable
	r := <-slow
	if r.err != nil || r.e.Port != checking {
		t.Fatalf("uid:1: %+v, %v; want port %d", r.e, r.err, checking)
	}
	if got := portsOf(onDisk(t, path)); got["uid:0"] != 1100 || got["uid:1"] != 1101 || got["uid:2"] != 1102 {
		t.Errorf("file holds %v", got)
	}
}

// TestAllocateWaitsForACheckBeforeFull: with the last free port being asked
// about by another allocation, an allocation waits for that answer rather
// than calling the range full; the port is its when the other's answer
// was no.
func TestAllocateWaitsForACheckBeforeFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), storeName)
	var log logSink
	s := open(t, path, 1100, 1101, &log)
	mustAllocate(t, s, "uid:0", nil) // 1100; 1101 is the last free port

	asked, answer := make(chan int, 1), make(chan bool)
	first := make(chan error, 1)
	go func() {
		_, err := s.Allocate("uid:1", func(p int) bool { asked <- p; return <-answer })
		first <- err
	}()
	if p := <-asked; p != 1101 {
		t.Fatalf("asked about %d, want 1101", p)
	}
	second := make(chan Entry, 1)
	secondErr := make(chan error, 1)
	go func() {
		e, err := s.Allocate("uid:2", nil)
		second <- e
		secondErr <- err
	}()
	select {
	case err := <-secondErr:
		t.Fatalf("uid:2's allocation ended (%v) while 1101 was still being asked about", err)
	case <-time.After(200 * time.Millisecond):
	}
	answer <- true // unusable for uid:1
	if err := <-first; !errors.Is(err, ErrFull) {
		t.Errorf("uid:1: %v, want ErrFull", err)
	}
	if e, err := <-second, <-secondErr; err != nil || e.Port != 1101 {
		t.Errorf("uid:2: %+v, %v; want 1101", e, err)
	}
}
