//go:build !windows

package fswatch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// told waits (at most 5 s) to be told of a change.
func told(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel closed", what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not told within 5 s", what)
	}
}

// quiet checks that nothing is told for a moment, then empties ch.
func quiet(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: told of a change", what)
	case <-time.After(300 * time.Millisecond):
	}
}

// drain forgets what was told so far (one change is often several events).
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func watch(t *testing.T, paths ...string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Watch(ctx, paths...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for range ch { // closed once the watch has stopped
		}
		closing.Wait()
	})
	return ch
}

func TestFileChanges(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.json")
	write(t, file, "{}")
	ch := watch(t, file)

	write(t, file, `{"a":1}`)
	told(t, ch, "written in place")
	drain(ch)

	write(t, filepath.Join(dir, "other.json"), "{}")
	quiet(t, ch, "another file in the directory")

	tmp := filepath.Join(dir, ".policy.json.tmp")
	write(t, tmp, `{"a":2}`)
	drain(ch)
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	told(t, ch, "replaced by rename")
	drain(ch)

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	told(t, ch, "removed")
	drain(ch)

	write(t, file, "{}")
	told(t, ch, "created again")
}

// A file whose mode changes.
func TestModeChange(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.json")
	write(t, file, "{}")
	ch := watch(t, file)
	if err := os.Chmod(file, 0o400); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(file, 0o600)
	told(t, ch, "mode changed")
}

// A path under directories that do not exist yet is told of once they and
// it are made, and a directory path of changes to the files in it.
func TestMissingDirectories(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "cardbridge")
	file := filepath.Join(dir, "policy.json")
	dropins := filepath.Join(dir, "policy.d")
	ch := watch(t, file, dropins)

	write(t, filepath.Join(root, "unrelated"), "x")
	quiet(t, ch, "a file beside the missing directory")

	if err := os.MkdirAll(dropins, 0o755); err != nil {
		t.Fatal(err)
	}
	told(t, ch, "its directories made")
	drain(ch)

	write(t, file, "{}")
	told(t, ch, "the file created in the new directory")
	drain(ch)

	write(t, filepath.Join(dropins, "50-site.json"), "{}")
	told(t, ch, "a file created in the watched directory")
	drain(ch)

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	told(t, ch, "the directory removed")
	drain(ch)

	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	drain(ch)
	write(t, file, "{}")
	told(t, ch, "the file created in the directory made again")
}

func TestStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Watch(ctx, filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-time.After(5 * time.Second):
		t.Fatal("the channel is still open 5 s after the context ended")
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	}
}

// Watches in one process share one notification instance: each is told of
// its own paths only, one ending leaves the other working, and the last to
// end closes the instance.
func TestWatchesShareOneInstance(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	ctxA, cancelA := context.WithCancel(context.Background())
	chA, err := Watch(ctxA, a)
	if err != nil {
		t.Fatal(err)
	}
	ctxB, cancelB := context.WithCancel(context.Background())
	chB, err := Watch(ctxB, b)
	if err != nil {
		t.Fatal(err)
	}
	shared.mu.Lock()
	n, dirs := len(shared.sets), shared.dirs[dir]
	shared.mu.Unlock()
	if n != 2 || dirs != 2 {
		t.Errorf("%d sets sharing the watcher, its directory wanted %d times; want 2 and 2", n, dirs)
	}

	write(t, a, "1")
	told(t, chA, "a written")
	quiet(t, chB, "b, when a was written")
	write(t, b, "1")
	told(t, chB, "b written")
	drain(chA)

	cancelA()
	for range chA {
	}
	write(t, b, "2")
	told(t, chB, "b written after a's watch ended")

	cancelB()
	for range chB {
	}
	defer closing.Wait()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.w != nil || len(shared.dirs) != 0 {
		t.Errorf("after every watch ended: watcher %v, directories %v; want none", shared.w, shared.dirs)
	}
}
