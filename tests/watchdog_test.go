//go:build linux && cgo

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// benchLimit is how long a benchmark may run before the watchdog ends it.
// go test's -timeout does not cover benchmarks: a benchmark stuck in a
// PC/SC call would otherwise hold scripts/bench for ever.
const benchLimit = 8 * time.Minute

// watchdog ends a stuck benchmark: it prints why (every goroutine's stack
// and where each of the process's threads waits), stops the private pcscd,
// which fails any PC/SC call stuck in it so that the benchmark's own error
// paths and cleanups run, and if the benchmark has still not returned a
// minute later, runs the abort hooks and ends the process.
var watchdog struct {
	mu    sync.Mutex
	timer *time.Timer
	name  string
	hooks []func()
}

// boundBench arms the watchdog for b for d (a later call re-arms it, for a
// benchmark that needs longer), and disarms it when b ends.
func boundBench(b *testing.B, d time.Duration) {
	b.Helper()
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if watchdog.timer != nil {
		watchdog.timer.Stop()
	}
	name := b.Name()
	watchdog.name = name
	t := time.AfterFunc(d, func() { benchStuck(name, d) })
	watchdog.timer = t
	b.Cleanup(func() {
		t.Stop()
		watchdog.mu.Lock()
		if watchdog.timer == t {
			watchdog.timer, watchdog.hooks = nil, nil
		}
		watchdog.mu.Unlock()
	})
}

// onAbort adds a hook the watchdog runs before it ends the process: what
// a benchmark must undo even then (processes it started, by PID).
func onAbort(f func()) {
	watchdog.mu.Lock()
	watchdog.hooks = append(watchdog.hooks, f)
	watchdog.mu.Unlock()
}

func benchStuck(name string, d time.Duration) {
	fmt.Fprintf(os.Stderr, "\n--- FAIL: %s: still running after %v; its goroutines and threads:\n", name, d)
	_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
	fmt.Fprintln(os.Stderr, threadWaits())
	if bed != nil {
		fmt.Fprintln(os.Stderr, "pcscd's last output:\n"+testutil.Tail(bed.Log(), 4000))
		fmt.Fprintln(os.Stderr, "stopping pcscd, to fail any PC/SC call stuck in it")
		_ = bed.Stop()
	}
	time.Sleep(time.Minute)
	watchdog.mu.Lock()
	hooks := watchdog.hooks
	watchdog.mu.Unlock()
	fmt.Fprintf(os.Stderr, "--- FAIL: %s did not return a minute after pcscd stopped: ending the process\n", name)
	for _, h := range hooks {
		h()
	}
	os.Exit(3)
}

// threadWaits lists each thread of this process with its state and the
// kernel function it waits in.
func threadWaits() string {
	tasks, _ := filepath.Glob("/proc/self/task/*")
	var sb strings.Builder
	for _, t := range tasks {
		stat, _ := os.ReadFile(filepath.Join(t, "stat"))
		wchan, _ := os.ReadFile(filepath.Join(t, "wchan"))
		// The state is the field after the command name's closing parenthesis.
		state := "?"
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
			state = string(stat[i+2])
		}
		fmt.Fprintf(&sb, "thread %s: state %s, waiting in %s\n", filepath.Base(t), state, wchan)
	}
	return sb.String()
}
