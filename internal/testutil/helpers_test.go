package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps its failures and cleanups instead of
// acting on them; Fatalf ends the calling goroutine, as t.Fatalf does.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// end runs the cleanups, last first, as the end of a test does.
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *recorder) failed() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.failures, "; ")
}

// inGoroutine runs f as a test body that may end its goroutine.
func inGoroutine(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	ln.Close()
}

func TestWaitFor(t *testing.T) {
	t.Run("holds", func(t *testing.T) {
		calls := 0
		WaitFor(t, time.Second, time.Millisecond, "the third call", func() bool { calls++; return calls == 3 })
		if calls != 3 {
			t.Errorf("cond was called %d times, want 3", calls)
		}
	})
	t.Run("times out", func(t *testing.T) {
		r := &recorder{TB: t}
		inGoroutine(func() { WaitFor(r, 20*time.Millisecond, time.Millisecond, "nothing", func() bool { return false }) })
		if got := r.failed(); !strings.Contains(got, "timed out after 20ms waiting for nothing") {
			t.Errorf("failures = %q, want a time-out naming what it waited for", got)
		}
	})
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "c.txt")
	WriteFile(t, path, "hello")
	if b, err := os.ReadFile(path); err != nil || string(b) != "hello" {
		t.Errorf("ReadFile = %q, %v; want hello", b, err)
	}
}

// echoCard answers a command with itself.
type echoCard struct{}

func (echoCard) Transmit(cmd []byte) ([]byte, error) { return append([]byte(nil), cmd...), nil }

func TestTransmitter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := Transmitter{Card: echoCard{}}.Transmit(ctx, []byte{1, 2})
	if err != nil || string(resp) != "\x01\x02" {
		t.Errorf("Transmit = %x, %v; want 0102, nil", resp, err)
	}
}

func TestRunBackground(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
		want string // in the failures; "" for none
	}{
		{"stops when cancelled", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, ""},
		{"returns another error", func(ctx context.Context) error { <-ctx.Done(); return errors.New("boom") }, "the loop returned boom, want context.Canceled"},
		{"does not stop", func(ctx context.Context) error { time.Sleep(time.Second); return nil }, "the loop did not return within 20ms of cancel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			RunBackground(r, "the loop", 20*time.Millisecond, tc.run)
			r.end()
			got := r.failed()
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("failures = %q, want %q", got, tc.want)
			}
		})
	}
}
