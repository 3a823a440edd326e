package agentd

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeExe is a file standing in for the agent's executable, replaced the
// way package managers do: a new file renamed over the old one.
type fakeExe struct {
	t    *testing.T
	path string
	n    int
}

func (f *fakeExe) replace(content string) {
	f.t.Helper()
	f.n++
	tmp := f.path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		f.t.Fatal(err)
	}
}

// newTestWatch watches a fake executable whose "version" is its content,
// unless that starts with "broken".
func newTestWatch(t *testing.T) (*exeWatch, *fakeExe, *strings.Builder, *int) {
	dir := t.TempDir()
	f := &fakeExe{t: t, path: filepath.Join(dir, "cardbridge")}
	f.replace("cardbridge 1.0")
	st, err := os.Stat(f.path)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	checks := 0
	w := &exeWatch{path: f.path, orig: st, log: zerolog.New(&logs), check: func(_ context.Context, path string) (string, error) {
		checks++
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(string(b), "broken") {
			return "", errors.New("exit status 1")
		}
		return string(b), nil
	}}
	return w, f, &logs, &checks
}

func TestExeWatchWaitsForANewFileToSettle(t *testing.T) {
	w, f, _, checks := newTestWatch(t)
	ctx := context.Background()
	if v := w.poll(ctx); v != "" {
		t.Fatalf("unchanged executable: poll = %q", v)
	}
	f.replace("cardbridge 2.0")
	if v := w.poll(ctx); v != "" {
		t.Fatalf("a file seen once: poll = %q, want a wait for it to settle", v)
	}
	if *checks != 0 {
		t.Fatal("a file not yet settled was run")
	}
	// Replaced again before it settled: the newest file must settle too.
	f.replace("cardbridge 2.1")
	if v := w.poll(ctx); v != "" {
		t.Fatalf("a file changed since the last poll: poll = %q", v)
	}
	if v := w.poll(ctx); v != "cardbridge 2.1" {
		t.Fatalf("settled new file: poll = %q, want cardbridge 2.1", v)
	}
}

func TestExeWatchMissingFileIsNoUpgrade(t *testing.T) {
	w, f, _, _ := newTestWatch(t)
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v := w.poll(context.Background()); v != "" {
			t.Fatalf("missing executable: poll = %q", v)
		}
	}
}

func TestExeWatchBrokenUpgradeIsTriedOnce(t *testing.T) {
	w, f, logs, checks := newTestWatch(t)
	ctx := context.Background()
	f.replace("broken build")
	for range 4 {
		if v := w.poll(ctx); v != "" {
			t.Fatalf("broken new executable: poll = %q", v)
		}
	}
	if *checks != 1 {
		t.Errorf("the broken executable was run %d times, want once", *checks)
	}
	if n := strings.Count(logs.String(), "does not run"); n != 1 {
		t.Errorf("%d warnings about the broken executable, want 1:\n%s", n, logs)
	}
	// A fixed build replacing the broken one is taken.
	f.replace("cardbridge 3.0")
	w.poll(ctx)
	if v := w.poll(ctx); v != "cardbridge 3.0" {
		t.Fatalf("fixed executable: poll = %q", v)
	}
}

func TestExeWatchWaitHoldsWhileBusy(t *testing.T) {
	w, f, logs, _ := newTestWatch(t)
	f.replace("cardbridge 2.0")
	busy := 5
	idle := func() bool { busy--; return busy < 0 }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	up, ok := w.wait(ctx, time.Millisecond, idle)
	if !ok || up.version != "cardbridge 2.0" || up.path != f.path {
		t.Fatalf("wait = %+v, %v", up, ok)
	}
	if busy != -1 {
		t.Errorf("wait returned after %d busy answers, want 5", 5-busy-1)
	}
	if n := strings.Count(logs.String(), "once the signing under way ends"); n != 1 {
		t.Errorf("%d notes about waiting for the signing, want 1:\n%s", n, logs)
	}
	// It ends with ctx, reporting no upgrade.
	cancel()
	if up, ok := w.wait(ctx, time.Millisecond, func() bool { return true }); ok {
		t.Errorf("wait after ctx ended = %+v", up)
	}
}

func TestRunVersion(t *testing.T) {
	if !canReexec {
		t.Skip("agents do not restart onto upgrades here (an installer cannot replace a running program), so runVersion is not used")
	}
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	tests := []struct {
		name   string
		path   string // self when ""
		prints string
		exit   string
		want   string // "" for an error
	}{
		{name: "a cardbridge", prints: "cardbridge 9.9.9 (commit abc, linux/amd64)\nmore\n", exit: "0", want: "cardbridge 9.9.9 (commit abc, linux/amd64)"},
		{name: "fails", prints: "cardbridge 9.9.9\n", exit: "1"},
		{name: "silent", exit: "0"},
		{name: "not a cardbridge", prints: "Segmentation fault\n", exit: "0"},
		{name: "missing", path: filepath.Join(t.TempDir(), "missing")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// This test binary prints and exits so with envPrint and envExit (TestMain).
			t.Setenv(envPrint, tt.prints)
			t.Setenv(envExit, tt.exit)
			path := cmp.Or(tt.path, self)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v, err := runVersion(ctx, path)
			if tt.want != "" && (err != nil || v != tt.want) || tt.want == "" && err == nil {
				t.Errorf("runVersion = %q, %v; want %q", v, err, cmp.Or(tt.want, "an error"))
			}
		})
	}
}
