//go:build !linux && !darwin && !windows

package pinentry

import (
	"os/exec"
	"strings"
)

// platformEnv adds nothing here.
var platformEnv []string

// envKeyEqual compares variable names exactly.
func envKeyEqual(a, b string) bool { return a == b }

// noConsole does nothing here.
func noConsole(*exec.Cmd) {}

// find looks on PATH for the usual pinentry programs.
func find(_ func(string) string, lookPath func(string) (string, error), _ func(string) bool) (Program, error) {
	names := []string{"pinentry-gnome3", "pinentry-qt", "pinentry-gtk-2", "pinentry-curses", "pinentry"}
	if p, ok := lookFirst(lookPath, names...); ok {
		return p, nil
	}
	return Program{}, &notFoundError{"looked on PATH for " + strings.Join(names, ", ")}
}
