package supervise

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// The tests run this test binary as the supervised agent: with
// envChildExit set it records its start and exits with that code at once
// (or, for "panic", panics as a crashing agent would).
const (
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
	os.Exit(m.Run())
}

// fastRestarts shortens the restart pacing for a test.
func fastRestarts(t *testing.T) {
	old := []time.Duration{MinDelay, MaxDelay, Stable}
	MinDelay, MaxDelay, Stable = 20*time.Millisecond, 80*time.Millisecond, time.Hour
	t.Cleanup(func() { MinDelay, MaxDelay, Stable = old[0], old[1], old[2] })
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
	for _, tt := range []struct{ env, want string }{{"", "processors 1"}, {"2", "processors 2"}, {"abc", "processors 1"}} {
		log := filepath.Join(t.TempDir(), "starts")
		t.Setenv(envChildExit, "0")
		t.Setenv(envChildStart, log)
		t.Setenv("GOMAXPROCS", tt.env)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var said strings.Builder
		code, err := Run(ctx, testProgram(t), []string{"agent"}, &said)
		cancel()
		if err != nil || code != 0 {
			t.Fatalf("Run returned %d, %v; want 0", code, err)
		}
		data, _ := os.ReadFile(log)
		if !strings.Contains(string(data), tt.want+"\n") {
			t.Errorf("with GOMAXPROCS=%q the agent recorded %q, want %q", tt.env, data, tt.want)
		}
		if warned := strings.Contains(said.String(), "ignoring GOMAXPROCS"); warned != (tt.env == "abc") {
			t.Errorf("with GOMAXPROCS=%q the supervisor said %q", tt.env, said.String())
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
		{code: "64", wantCode: ExitUsage},
		{code: "3", wantCode: ExitAlreadyRunning},
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
				code, err := Run(ctx, testProgram(t), []string{"agent", "--listen=127.0.0.1:1", "--log-level=debug"}, &stderr)
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				done <- code
			}()
			if !tt.wantRestart {
				select {
				case got := <-done:
					if got != tt.wantCode {
						t.Errorf("Run returned %d, want %d", got, tt.wantCode)
					}
				case <-ctx.Done():
					t.Fatal("Run did not return")
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
				t.Errorf("Run returned %d after the session ended, want 0", got)
			}
			s := starts(t, log)
			if s[0] != "agent --listen=127.0.0.1:1 --log-level=debug" {
				t.Errorf("agent started as %q, want the arguments given", s[0])
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
		env     []string
		want    []string
		ignored string
	}{
		{[]string{"HOME=/h", "PATH=/bin"}, []string{"HOME=/h", "PATH=/bin", "GOMAXPROCS=1"}, ""},
		{[]string{"GOMAXPROCS=", "HOME=/h"}, []string{"HOME=/h", "GOMAXPROCS=1"}, ""},
		{[]string{"HOME=/h", "GOMAXPROCS=4"}, []string{"HOME=/h", "GOMAXPROCS=4"}, ""},
		// Values the Go runtime ignores, leaving its default.
		{[]string{"GOMAXPROCS=abc", "HOME=/h"}, []string{"HOME=/h", "GOMAXPROCS=1"}, "abc"},
		{[]string{"GOMAXPROCS=0"}, []string{"GOMAXPROCS=1"}, "0"},
		{[]string{"GOMAXPROCS=-2"}, []string{"GOMAXPROCS=1"}, "-2"},
		{[]string{"GOMAXPROCS= 2"}, []string{"GOMAXPROCS=1"}, " 2"},
	}
	if runtime.GOOS == "windows" {
		tests = append(tests, struct {
			env, want []string
			ignored   string
		}{[]string{"gomaxprocs=4"}, []string{"gomaxprocs=4"}, ""})
	} else {
		tests = append(tests, struct {
			env, want []string
			ignored   string
		}{[]string{"gomaxprocs=4"}, []string{"gomaxprocs=4", "GOMAXPROCS=1"}, ""})
	}
	for _, tt := range tests {
		if got, ignored := childEnv(tt.env); !slices.Equal(got, tt.want) || ignored != tt.ignored {
			t.Errorf("childEnv(%q) = %q, ignored %q; want %q, ignored %q", tt.env, got, ignored, tt.want, tt.ignored)
		}
	}
}

// testProgram is this test binary, which plays the agent.
func testProgram(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestAgentProgram(t *testing.T) {
	dir := filepath.Join("opt", "cardbridge")
	want := filepath.Join(dir, "cardbridge")
	if runtime.GOOS == "windows" {
		want += ".exe"
	}
	if got := AgentProgram(filepath.Join(dir, "cardbridge-supervisor")); got != want {
		t.Errorf("AgentProgram = %q, want %q", got, want)
	}
}
