// Package supervise keeps a user's agent running for the login session,
// where no service manager does (the Windows Run key, and Linux desktops
// whose sessions have no systemd user manager): it runs `cardbridge agent`
// as a child and starts it again whenever it stops unexpectedly.
//
// It is the whole of the cardbridge-supervisor program, which the login
// entries start, and of `cardbridge agent --supervise`. It imports little
// beyond os/exec, so that program stays small: a terminal server runs one
// for every user, and starts hundreds at once when a shift logs in.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Exit codes of `cardbridge agent` that a supervisor (this package, the
// systemd user unit, launchd) must not answer with a restart. Any other
// is, 2 included: the Go runtime's exit code after a panic.
const (
	ExitUsage          = 64 // bad flags: a restart cannot help (cli.ExitUsage)
	ExitAlreadyRunning = 3  // this user's agent already runs
)

// Restart pacing: the delay doubles from MinDelay to MaxDelay, and drops
// back once the agent has run for Stable. A child asked to stop has
// StopWait to do so before it is killed.
var (
	MinDelay = time.Second
	MaxDelay = time.Minute
	Stable   = time.Minute
	StopWait = 5 * time.Second
)

// AgentProgram is the cardbridge executable beside exe (the supervisor's
// own): the two are installed in the same folder.
func AgentProgram(exe string) string {
	name := "cardbridge"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(filepath.Dir(exe), name)
}

// Run keeps the agent running for the login session: it runs agent with
// args (starting with "agent") as a child, and starts it again whenever it
// stops unexpectedly (a crash, a kill, an error). It returns when the agent
// exits cleanly, for bad flags, when another agent already runs for the
// user, or when ctx ends (the session is closing), stopping the child
// first. It returns the exit code to end with: the agent's last, or 0 when
// ctx ended. Messages for the user's log go to stderr.
func Run(ctx context.Context, agent string, args []string, stderr io.Writer) (int, error) {
	detachConsole()
	env, ignored := childEnv(os.Environ())
	if ignored != "" {
		fmt.Fprintf(stderr, "cardbridge agent: ignoring GOMAXPROCS=%q, which is not a positive whole number; the agent runs on one processor\n", ignored)
	}
	delay := MinDelay
	for {
		started := time.Now()
		code, err := runChild(ctx, agent, args, env, stderr)
		if ctx.Err() != nil {
			return 0, nil
		}
		switch {
		case err != nil:
			return 0, err
		case code == 0, code == ExitUsage, code == ExitAlreadyRunning:
			return code, nil
		}
		if time.Since(started) >= Stable {
			delay = MinDelay
		}
		fmt.Fprintf(stderr, "cardbridge agent: the agent stopped (%s); starting it again in %s\n", describeExit(code), delay)
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(delay):
		}
		delay = min(2*delay, MaxDelay)
	}
}

// runChild runs one agent process until it exits, or stops it when ctx
// ends. It returns the exit code (-1 when a signal ended it).
func runChild(ctx context.Context, exe string, args, env []string, stderr io.Writer) (int, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = env
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
		case <-time.After(StopWait):
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
// GOMAXPROCS=1 unless that sets GOMAXPROCS to a positive whole number. The
// agent waits on pages and cards nearly all the time, and a terminal
// server runs one for every user: on one processor the Go runtime starts
// fewer threads and keeps no second processor's caches, so an idle agent
// holds about a quarter less private memory (1.26 against 1.65 MB in the
// logon-storm benchmark) and its start takes a little less CPU. It has to
// be in the environment: the runtime reads it before any of the agent's
// code runs, and setting it later (runtime.GOMAXPROCS) adds to the
// process's private memory instead. The systemd user unit and the launchd
// agent set it the same way.
//
// Any other value set (say "abc" or "0") would leave the agent with the
// runtime's default, as if unset; it is replaced, and returned as ignored
// for the supervisor to say so. An empty value counts as unset.
func childEnv(env []string) (out []string, ignored string) {
	out = make([]string, 0, len(env)+1)
	for _, kv := range env {
		// Windows's names are case-insensitive (gomaxprocs is GOMAXPROCS).
		if name, v, _ := strings.Cut(kv, "="); name == "GOMAXPROCS" || runtime.GOOS == "windows" && strings.EqualFold(name, "GOMAXPROCS") {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return env, ""
			}
			if v != "" {
				ignored = v
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GOMAXPROCS=1"), ignored
}

func describeExit(code int) string {
	if code < 0 {
		return "killed by a signal"
	}
	return fmt.Sprintf("exit code %d", code)
}
