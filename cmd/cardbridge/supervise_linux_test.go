package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// TestSuperviseAgent runs a real agent under --supervise, kills it as a
// crash would, and checks that it serves again and that ending the session
// stops it.
func TestSuperviseAgent(t *testing.T) {
	fastRestarts(t)
	t.Setenv(envRunMain, "1")
	t.Setenv("GOMAXPROCS", "") // unset: the supervisor chooses
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr testutil.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"agent", "--supervise", "--listen", addr, "--log", filepath.Join(dir, "agent.log")}, &stderr, &stderr)
	}()
	first := waitServing(t, ctx, addr, 0, &stderr)
	// The agent runs on one processor from its start: the supervisor put
	// GOMAXPROCS=1 in its environment.
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(first), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(environ), "\x00")
	if !slices.Contains(vars, "GOMAXPROCS=1") {
		t.Errorf("the agent's environment lacks GOMAXPROCS=1; it has %q", slices.DeleteFunc(vars, func(v string) bool { return !strings.HasPrefix(v, "GOMAXPROCS") }))
	}
	resp, err := http.Get("http://" + addr + "/debug/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats struct{ Processors int }
	err = json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if err != nil || stats.Processors != 1 {
		t.Errorf("the agent's /debug/stats: processors %d (%v), want 1", stats.Processors, err)
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitServing(t, ctx, addr, first, &stderr)
	if !strings.Contains(stderr.String(), "killed by a signal") {
		t.Errorf("supervisor said %q, want it to report the kill", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("supervised agent exited %d after the session ended, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("supervisor did not stop")
	}
	if err := syscall.Kill(second, 0); err == nil {
		t.Errorf("agent process %d still runs after the supervisor stopped", second)
	}
}

// waitServing waits until an agent child of this process other than old
// answers on addr, and returns its pid.
func waitServing(t *testing.T, ctx context.Context, addr string, old int, stderr *testutil.Buffer) int {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		if pid := testutil.ChildOf(os.Getpid()); pid != 0 && pid != old {
			resp, err := client.Get("http://" + addr + "/api/versioninfo")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return pid
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no agent answered on %s; supervisor said %q", addr, stderr.String())
	return 0
}
