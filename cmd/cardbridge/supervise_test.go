package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

// The supervise tests run this test binary as the supervised agent: with
// envRunMain set it behaves as the cardbridge program, and with
// envChildExit set it records its start and exits with that code at once
// (or, for "panic", panics as a crashing agent would).
const (
	envRunMain    = "CARDBRIDGE_TEST_RUN_MAIN"
	envChildExit  = "CARDBRIDGE_TEST_CHILD_EXIT"
	envChildStart = "CARDBRIDGE_TEST_CHILD_STARTS"
)

func TestMain(m *testing.M) {
	if code := os.Getenv(envChildExit); code != "" {
		f, err := os.OpenFile(os.Getenv(envChildStart), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
			fmt.Fprintf(f, "processors %d\n", runtime.GOMAXPROCS(0))
			f.Close()
		}
		if code == "panic" {
			go panic("a crashing agent")
			select {}
		}
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fastRestarts shortens the restart pacing for a test.
func fastRestarts(t *testing.T) {
	old := []time.Duration{superviseMinDelay, superviseMaxDelay, superviseStable}
	superviseMinDelay, superviseMaxDelay, superviseStable = 20*time.Millisecond, 80*time.Millisecond, time.Hour
	t.Cleanup(func() { superviseMinDelay, superviseMaxDelay, superviseStable = old[0], old[1], old[2] })
}

func starts(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lines []string
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, "processors ") {
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
	}
	return lines
}

// TestSuperviseProcessors checks that the agent the supervisor starts runs
// on one processor, unless the supervisor's environment says otherwise.
func TestSuperviseProcessors(t *testing.T) {
	for _, tt := range []struct{ env, want string }{{"", "processors 1"}, {"2", "processors 2"}} {
		log := filepath.Join(t.TempDir(), "starts")
		t.Setenv(envChildExit, "0")
		t.Setenv(envChildStart, log)
		t.Setenv("GOMAXPROCS", tt.env)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := supervise(ctx, nil, io.Discard)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(log)
		if !strings.Contains(string(data), tt.want+"\n") {
			t.Errorf("with GOMAXPROCS=%q the agent recorded %q, want %q", tt.env, data, tt.want)
		}
	}
}

func TestSuperviseExitCodes(t *testing.T) {
	fastRestarts(t)
	tests := []struct {
		code        string
		wantCode    int
		wantRestart bool
	}{
		{code: "0", wantCode: 0},
		{code: "64", wantCode: exitUsage},
		{code: "3", wantCode: exitAlreadyRunning},
		{code: "1", wantRestart: true},
		{code: "70", wantRestart: true},
		{code: "2", wantRestart: true},     // what a Go program exits with on a panic
		{code: "panic", wantRestart: true}, // and a real one
	}
	for _, tt := range tests {
		t.Run("exit "+tt.code, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "starts")
			t.Setenv(envChildExit, tt.code)
			t.Setenv(envChildStart, log)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stderr testutil.Buffer
			done := make(chan int, 1)
			go func() {
				done <- cli.Code(supervise(ctx, []string{"--listen=127.0.0.1:1", "--log-level=debug"}, &stderr))
			}()
			if !tt.wantRestart {
				select {
				case got := <-done:
					if got != tt.wantCode {
						t.Errorf("supervise returned %d, want %d", got, tt.wantCode)
					}
				case <-ctx.Done():
					t.Fatal("supervise did not return")
				}
				if s := starts(t, log); len(s) != 1 {
					t.Errorf("agent started %d times, want once: %q", len(s), s)
				}
				return
			}
			for len(starts(t, log)) < 3 {
				if ctx.Err() != nil {
					t.Fatalf("agent started %d times in 10 s, want 3; supervisor said %q", len(starts(t, log)), stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if got := <-done; got != 0 {
				t.Errorf("supervise returned %d after the session ended, want 0", got)
			}
			s := starts(t, log)
			if s[0] != "agent --listen=127.0.0.1:1 --log-level=debug" {
				t.Errorf("agent started as %q, want the supervisor's flags without --supervise", s[0])
			}
			want := tt.code
			if want == "panic" {
				want = "2"
			}
			if !strings.Contains(stderr.String(), "(exit code "+want+"); starting it again") {
				t.Errorf("supervisor said %q, want it to name the exit code", stderr.String())
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	tests := []struct {
		env  []string
		want []string
	}{
		{[]string{"HOME=/h", "PATH=/bin"}, []string{"HOME=/h", "PATH=/bin", "GOMAXPROCS=1"}},
		{[]string{"GOMAXPROCS=", "HOME=/h"}, []string{"HOME=/h", "GOMAXPROCS=1"}},
		{[]string{"HOME=/h", "GOMAXPROCS=4"}, []string{"HOME=/h", "GOMAXPROCS=4"}},
	}
	if runtime.GOOS == "windows" {
		tests = append(tests, struct{ env, want []string }{[]string{"gomaxprocs=4"}, []string{"gomaxprocs=4"}})
	} else {
		tests = append(tests, struct{ env, want []string }{[]string{"gomaxprocs=4"}, []string{"gomaxprocs=4", "GOMAXPROCS=1"}})
	}
	for _, tt := range tests {
		if got := childEnv(tt.env); !slices.Equal(got, tt.want) {
			t.Errorf("childEnv(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
