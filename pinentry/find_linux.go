package pinentry

import (
	"os/exec"
	"strings"
)

// platformEnv adds nothing on Linux.
var platformEnv []string

// envKeyEqual compares variable names as Linux does: exactly.
func envKeyEqual(a, b string) bool { return a == b }

// noConsole does nothing on Linux.
func noConsole(*exec.Cmd) {}

// graphical are the pinentry programs that draw a window, best first:
// GNOME's (which also serves other desktops through gcr), KDE's Qt one, then
// the GTK ones as Debian and Fedora/Arch name them.
var graphical = []string{"pinentry-gnome3", "pinentry-qt", "pinentry-qt5", "pinentry-gtk-2", "pinentry-gtk"}

// terminal are the pinentry programs for a terminal, then the distribution's
// default ("pinentry", chosen with update-alternatives on Debian).
var terminal = []string{"pinentry-curses", "pinentry"}

// find looks on PATH for a graphical pinentry when a display is there, and
// for a terminal one first when none is.
func find(getenv func(string) string, lookPath func(string) (string, error), _ func(string) bool) (Program, error) {
	names := append(append([]string{}, graphical...), terminal...)
	if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		names = append(append([]string{}, terminal...), graphical...)
	}
	if p, ok := lookFirst(lookPath, names...); ok {
		return p, nil
	}
	return Program{}, &notFoundError{"looked on PATH for " + strings.Join(names, ", ")}
}
