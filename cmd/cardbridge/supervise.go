package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/internal/cli"
)

// Exit codes of `cardbridge agent` that a supervisor (--supervise, the
// systemd user unit, launchd) must not answer with a restart. Any other
// is, 2 included: the Go runtime's exit code after a panic.
const (
	exitUsage          = cli.ExitUsage // bad flags: a restart cannot help
	exitAlreadyRunning = 3             // this user's agent already runs
)

// Restart pacing of --supervise: the delay doubles from superviseMinDelay
// to superviseMaxDelay, and drops back once the agent has run for
// superviseStable.
var (
	superviseMinDelay = time.Second
	superviseMaxDelay = time.Minute
	superviseStable   = time.Minute
	superviseStopWait = 5 * time.Second
)

// supervise keeps the agent running for the login session: it runs
// `cardbridge agent` with the given flags as a child and starts it again
// whenever it stops unexpectedly (a crash, a kill, an error). It returns
// when the agent exits cleanly, for bad flags, when another agent already
// runs for the user, or when ctx ends (the session is closing), stopping
// the child first. It ends with the agent's exit code (cli.Exit).
func supervise(ctx context.Context, agentArgs []string, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program: %w", err)
	}
	detachConsole()
	delay := superviseMinDelay
	for restarts := 0; ; restarts++ {
		started := time.Now()
		code, err := runChild(ctx, exe, append([]string{"agent"}, agentArgs...), stderr)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil:
			return err
		case code == 0, code == exitUsage, code == exitAlreadyRunning:
			return cli.Exit(code)
		}
		if time.Since(started) >= superviseStable {
			delay = superviseMinDelay
		}
		fmt.Fprintf(stderr, "cardbridge agent: the agent stopped (%s); starting it again in %s\n", describeExit(code), delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, superviseMaxDelay)
	}
}

// runChild runs one agent process until it exits, or stops it when ctx
// ends. It returns the exit code (-1 when a signal ended it).
func runChild(ctx context.Context, exe string, args []string, stderr io.Writer) (int, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = childEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = stderr, stderr
	prepareChild(cmd)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the agent: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		stopChild(cmd.Process)
		select {
		case err = <-done:
		case <-time.After(superviseStopWait):
			_ = cmd.Process.Kill()
			err = <-done
		}
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("wait for the agent: %w", err)
	}
	return 0, nil
}

// childEnv is the agent's environment: the supervisor's, with
// GOMAXPROCS=1 unless that sets GOMAXPROCS. The agent waits on pages and
// cards nearly all the time, and a terminal server runs one for every
// user: on one processor the Go runtime starts fewer threads and keeps no
// second processor's caches, so an idle agent holds about a quarter less
// private memory (1.26 against 1.65 MB in the logon-storm benchmark) and
// its start takes a little less CPU. It has to be in the environment: the
// runtime reads it before any of the agent's code runs, and setting it
// later (runtime.GOMAXPROCS) adds to the process's private memory instead.
// The systemd user unit and the launchd agent set it the same way.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		// Windows's names are case-insensitive (gomaxprocs is GOMAXPROCS).
		if name, v, _ := strings.Cut(kv, "="); name == "GOMAXPROCS" || runtime.GOOS == "windows" && strings.EqualFold(name, "GOMAXPROCS") {
			if v != "" {
				return env
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GOMAXPROCS=1")
}

func describeExit(code int) string {
	if code < 0 {
		return "killed by a signal"
	}
	return fmt.Sprintf("exit code %d", code)
}
