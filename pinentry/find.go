package pinentry

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Find picks the pinentry program to use on this machine when none is
// configured, or returns ErrNotFound.
func Find() (Program, error) {
	return find(os.Getenv, exec.LookPath, isFile)
}

// isFile reports whether path names an existing regular file.
func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// lookFirst returns the first of names that lookPath finds.
func lookFirst(lookPath func(string) (string, error), names ...string) (Program, bool) {
	for _, n := range names {
		if p, err := lookPath(n); err == nil {
			return Program{Path: p}, true
		}
	}
	return Program{}, false
}

// firstFile returns the first of paths that exists.
func firstFile(exists func(string) bool, paths ...string) (Program, bool) {
	for _, p := range paths {
		if exists(p) {
			return Program{Path: p}, true
		}
	}
	return Program{}, false
}

// notFoundError is ErrNotFound saying where Find looked.
type notFoundError struct{ where string }

func (e *notFoundError) Error() string {
	return "find pinentry: " + ErrNotFound.Error() + " (" + e.where + ")"
}

func (e *notFoundError) Unwrap() error { return ErrNotFound }

// terminalOnly are the pinentry programs that draw in a terminal and fail
// without one ("Inappropriate ioctl for device").
var terminalOnly = []string{"pinentry-curses", "pinentry-tty"}

// NeedsTerminal reports whether the program at path is a pinentry that
// works only in a terminal, which an agent started at login does not have:
// by its name, or the name it links to (Debian's /usr/bin/pinentry is a
// link through /etc/alternatives).
func NeedsTerminal(path string) bool {
	terminal := func(p string) bool {
		return slices.Contains(terminalOnly, strings.TrimSuffix(strings.ToLower(filepath.Base(p)), ".exe"))
	}
	if terminal(path) {
		return true
	}
	real, err := filepath.EvalSymlinks(path)
	return err == nil && terminal(real)
}
