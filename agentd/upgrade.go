package agentd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/fswatch"
)

// An upgrade (apt, a package manager, an admin copying a new build) replaces
// the cardbridge executable while every logged-in user's agent keeps running
// the old one. Each agent watches its own executable and, once a working new
// one has settled in place and no signing is under way, restarts onto it:
// on Linux and macOS by executing it in place (same process, same port,
// same parent, so a service manager or supervisor sees nothing). On
// Windows an installer cannot replace a running program, so there is
// nothing to watch: agents start the new version at the next logon.

// errUpgraded ends run when the agent should restart onto the
// executable at path.
type errUpgraded struct{ path, version string }

func (e *errUpgraded) Error() string {
	return "the cardbridge executable was upgraded to " + e.version + "; restarting onto it"
}

// exeWatch notices a replaced executable.
type exeWatch struct {
	path string
	orig os.FileInfo
	log  zerolog.Logger
	// check runs the new executable's `version` and returns its first line.
	check func(ctx context.Context, path string) (string, error)

	pending os.FileInfo // a new file seen once, waiting to stay unchanged
	failed  os.FileInfo // a new file whose check failed, not tried again
}

// newExeWatch watches the running executable, or returns nil (with the
// reason logged) when it cannot be found.
func newExeWatch(log zerolog.Logger) *exeWatch {
	path, err := os.Executable()
	if err == nil {
		var st os.FileInfo
		if st, err = os.Stat(path); err == nil {
			return &exeWatch{path: path, orig: st, log: log, check: runVersion}
		}
	}
	log.Warn().Err(err).Msg("cannot find this program's executable; the agent will not restart itself after an upgrade")
	return nil
}

// sameFile reports whether a and b are the same file with the same content
// as far as its metadata tells.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// poll looks once. It returns the new executable's version line when a new
// file has stayed unchanged since the previous poll and runs; otherwise "".
func (w *exeWatch) poll(ctx context.Context) string {
	st, err := os.Stat(w.path)
	if err != nil || sameFile(st, w.orig) {
		// Missing for a moment while a package manager swaps files in,
		// or back as it was.
		w.pending = nil
		return ""
	}
	if !sameFile(st, w.pending) {
		w.pending = st // seen once: wait for it to settle
		return ""
	}
	if sameFile(st, w.failed) {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := w.check(cctx, w.path)
	if err != nil {
		w.failed = st
		w.log.Warn().Err(err).Str("path", w.path).Msg("the cardbridge executable was replaced, but the new one does not run; staying on this version")
		return ""
	}
	return v
}

// wait looks whenever the system tells of a change to the executable
// (every interval where it cannot tell), until a working new executable is
// in place and idle reports that the agent may stop, or ctx ends. A new
// file must stay unchanged for interval before it is run, and while a
// signing holds the restart it looks again every interval: an idle agent
// with nothing upgraded has no timer to wake it.
func (w *exeWatch) wait(ctx context.Context, interval time.Duration, idle func() bool) (*errUpgraded, bool) {
	told, err := fswatch.Watch(ctx, w.path)
	if err != nil {
		w.log.Warn().Err(err).Dur("every", interval).Msg("cannot be told when the cardbridge executable changes; looking on a timer")
	}
	t := time.NewTimer(0) // look once now: it may have changed before the watch began
	defer t.Stop()
	waiting := false
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-t.C:
		case _, ok := <-told:
			if !ok {
				if ctx.Err() != nil {
					return nil, false
				}
				w.log.Warn().Dur("every", interval).Msg("no longer told when the cardbridge executable changes; looking on a timer")
				told = nil
			}
		}
		if ctx.Err() != nil {
			return nil, false
		}
		v := w.poll(ctx)
		switch {
		case v == "":
			waiting = false
		case !idle():
			if !waiting {
				w.log.Info().Str("new", v).Msg("the cardbridge executable was upgraded; restarting once the signing under way ends")
				waiting = true
			}
		default:
			return &errUpgraded{path: w.path, version: v}, true
		}
		// Look again after interval while a new file settles, a signing
		// holds the restart, or nothing tells of changes; a change told
		// meanwhile starts the interval again.
		if told == nil || w.pending != nil && !sameFile(w.pending, w.failed) || waiting {
			t.Reset(interval)
		} else {
			t.Stop()
		}
	}
}

// runVersion runs `path version` and returns what it printed, which must
// name cardbridge.
func runVersion(ctx context.Context, path string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited successfully; something it started (or, under Wine,
		// the system) still holds the output pipe. What it printed counts.
		err = nil
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	if err != nil {
		return "", fmt.Errorf("%s version: %w (%q)", path, err, line)
	}
	if !strings.HasPrefix(line, "cardbridge ") {
		return "", fmt.Errorf("%s version printed %q, not a cardbridge version", path, line)
	}
	return line, nil
}

// restartOnto replaces this process with the upgraded executable, with the
// same arguments and environment. It returns only on failure.
func restartOnto(e *errUpgraded) error {
	err := reexec(e.path, os.Args, os.Environ())
	if err == nil {
		err = errors.New("the new image did not start")
	}
	return fmt.Errorf("restart onto %s: %w", e.path, err)
}
