package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/logging"
)

// DefaultStateDir is the port service's state directory (its log,
// PortStore.txt and DomainList.txt) when it runs with the defaults.
func DefaultStateDir(goos string) string {
	if goos == "windows" {
		if d := os.Getenv("ProgramData"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "cardbridge")
		}
		return `C:\ProgramData\cardbridge`
	}
	return "/var/lib/cardbridge"
}

func checkAgentLog(p Probes, path string, now time.Time) Check {
	c := Check{ID: "agent-log", Name: "agent log"}
	if path == "" {
		dir, err := logging.DefaultDir()
		if err != nil {
			c.Status, c.Detail = Info, "cannot tell where it is: "+err.Error()
			return c
		}
		path = filepath.Join(dir, "agent.log")
	}
	c.Status, c.Detail = describeLog(p, path, now)
	if c.Status == Info && strings.HasSuffix(c.Detail, "not there") {
		c.Detail += " (the agent has not run as this user yet, or it was started with --log FILE)"
	}
	return c
}

func checkPortServiceLog(f netFacts, p Probes, stateDir, goos string, now time.Time) Check {
	c := Check{ID: "portservice-log", Name: "port service log"}
	if stateDir == "" && f.ps != nil {
		// The service's DomainList lives in its state directory.
		if path, ok := strings.CutPrefix(f.ps.info.DomainList.Source, "file:"); ok && filepath.IsAbs(path) {
			stateDir = filepath.Dir(path)
		}
	}
	if stateDir == "" {
		stateDir = DefaultStateDir(goos)
	}
	c.Status, c.Detail = describeLog(p, filepath.Join(stateDir, "portservice.log"), now)
	if c.Status == Info && strings.HasSuffix(c.Detail, "not there") && f.ps != nil {
		c.Detail += " (the port service may have been started with --log FILE)"
	}
	return c
}

// describeLog says whether the log file at path is there, how big it is and
// when it was last written.
func describeLog(p Probes, path string, now time.Time) (Status, string) {
	st, err := p.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Info, path + ": not there"
	case errors.Is(err, fs.ErrPermission):
		return Info, path + ": this user may not look at it (ask an administrator)"
	case err != nil:
		return Info, path + ": cannot look at it: " + err.Error()
	case st.IsDir():
		return Info, path + ": is a directory, not a log file"
	}
	return OK, fmt.Sprintf("%s (%s, last written %s)", path, size(st.Size()), stamp(st.ModTime(), now))
}

// size says a file size the way people do.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
