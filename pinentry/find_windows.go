package pinentry

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// platformEnv keeps what Windows programs need to start and find their
// profile.
var platformEnv = []string{
	"SystemRoot", "SystemDrive", "windir", "TEMP", "TMP", "USERPROFILE",
	"APPDATA", "LOCALAPPDATA", "HOMEDRIVE", "HOMEPATH", "USERNAME", "PATHEXT",
}

// envKeyEqual compares variable names as Windows does: ignoring case.
func envKeyEqual(a, b string) bool { return strings.EqualFold(a, b) }

// createNoWindow keeps a console pinentry from opening a console window of
// its own; graphical ones are unaffected.
const createNoWindow = 0x08000000

// noConsole starts the program without a console window.
func noConsole(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: createNoWindow}
}

// windowsRelPaths are where Gpg4win (its Qt pinentry.exe and pinentry-qt.exe,
// the older pinentry-w32.exe) and GnuPG's own installer (pinentry-basic.exe)
// put a pinentry, relative to a Program Files directory.
var windowsRelPaths = []string{
	`Gpg4win\bin\pinentry.exe`,
	`Gpg4win\bin\pinentry-qt.exe`,
	`Gpg4win\bin\pinentry-w32.exe`,
	`Gpg4win\pinentry.exe`,
	`GnuPG\bin\pinentry-basic.exe`,
	`GnuPG\bin\pinentry.exe`,
}

// find looks in the Program Files directories (64-bit Gpg4win 5 and later,
// then 32-bit older ones), then on PATH.
func find(getenv func(string) string, lookPath func(string) (string, error), exists func(string) bool) (Program, error) {
	var paths []string
	seen := map[string]bool{}
	for _, v := range []string{"ProgramW6432", "ProgramFiles", "ProgramFiles(x86)"} {
		dir := getenv(v)
		if dir == "" || seen[strings.ToLower(dir)] {
			continue
		}
		seen[strings.ToLower(dir)] = true
		for _, rel := range windowsRelPaths {
			paths = append(paths, filepath.Join(dir, rel))
		}
	}
	if p, ok := firstFile(exists, paths...); ok {
		return p, nil
	}
	names := []string{"pinentry.exe", "pinentry-qt.exe", "pinentry-w32.exe", "pinentry-basic.exe"}
	if p, ok := lookFirst(lookPath, names...); ok {
		return p, nil
	}
	return Program{}, &notFoundError{"looked for Gpg4win or GnuPG under Program Files and for " + strings.Join(names, ", ") + " on PATH"}
}
