package pinentry

import (
	"os/exec"
	"strings"
)

// platformEnv keeps what Cocoa programs expect on macOS.
var platformEnv = []string{"__CF_USER_TEXT_ENCODING"}

// envKeyEqual compares variable names as macOS does: exactly.
func envKeyEqual(a, b string) bool { return a == b }

// noConsole does nothing on macOS.
func noConsole(*exec.Cmd) {}

// macPaths are where Homebrew (Apple silicon, then Intel) and GPG Suite
// install pinentry-mac; an agent started by launchd has a PATH without them.
var macPaths = []string{
	"/opt/homebrew/bin/pinentry-mac",
	"/usr/local/bin/pinentry-mac",
	"/usr/local/MacGPG2/libexec/pinentry-mac.app/Contents/MacOS/pinentry-mac",
	"/opt/local/bin/pinentry-mac",
}

// find prefers pinentry-mac, on PATH or where it is usually installed, then
// any pinentry on PATH or in Homebrew's directories.
func find(getenv func(string) string, lookPath func(string) (string, error), exists func(string) bool) (Program, error) {
	if p, ok := lookFirst(lookPath, "pinentry-mac"); ok {
		return p, nil
	}
	if p, ok := firstFile(exists, macPaths...); ok {
		return p, nil
	}
	if p, ok := lookFirst(lookPath, "pinentry"); ok {
		return p, nil
	}
	if p, ok := firstFile(exists, "/opt/homebrew/bin/pinentry", "/usr/local/bin/pinentry"); ok {
		return p, nil
	}
	return Program{}, &notFoundError{"looked for pinentry-mac and pinentry on PATH and in " + strings.Join(macPaths, ", ")}
}
