// Package installer registers cardbridge with the operating system: the port
// service as a system service (Windows SCM, systemd, launchd, through
// kardianos/service) and the agent at every user's login (a per-machine Run
// key on Windows, a systemd user unit plus an XDG autostart entry on Linux,
// a LaunchAgent on macOS). It also renders the files that the Linux package
// ships, so that a package install and `cardbridge-portservice install`
// leave the same configuration behind.
package installer

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// Names the operating system knows cardbridge by.
const (
	// ServiceName is the port service's name in the service manager.
	ServiceName = "cardbridge-portservice"
	// ServiceDisplayName is what service lists show.
	ServiceDisplayName = "cardbridge port service"
	// ServiceDescription explains the service in service lists.
	ServiceDescription = "Gives every signed-in user's cardbridge smartcard agent a localhost port of its own."
	// AgentName names the agent's login entries (unit, desktop file, Run value).
	AgentName = "cardbridge-agent"
	// LaunchdServiceLabel and LaunchdAgentLabel are the macOS job labels.
	LaunchdServiceLabel = "org.cardbridge.portservice"
	LaunchdAgentLabel   = "org.cardbridge.agent"
)

// The port service's local socket on each platform (localsock.DefaultPath
// there), as the installed login entries name it; the entries are made
// the same on any platform, so that each can be tested anywhere.
const (
	linuxSocket  = "/run/cardbridge/portservice.sock"
	darwinSocket = "/var/run/cardbridge/portservice.sock"
	windowsPipe  = `\\.\pipe\cardbridge-portservice`
)

// agentArgs are the arguments the agent is started with at login. It names
// the port service's socket, so that an agent started before the service
// waits for it rather than serving standalone as a plain `cardbridge agent`
// would.
func agentArgs(socket string) []string {
	return []string{"agent", "--portservice", socket}
}

// supervisedCommand is the command line of the login entries that no
// service manager restarts (the Windows Run key, the XDG autostart entry):
// the supervisor program, which keeps the agent running for the session
// (restarting it after a crash) with the arguments that follow.
func supervisedCommand(supervisor, socket string) []string {
	return []string{supervisor, "--portservice", socket}
}

// SupervisorProgram is the cardbridge-supervisor program beside the agent
// program exe: the two are installed in the same folder.
func SupervisorProgram(exe string) string {
	if runtime.GOOS == "windows" {
		return filepath.Join(filepath.Dir(exe), "cardbridge-supervisor.exe")
	}
	return unixSupervisor(exe)
}

// unixSupervisor is SupervisorProgram for a Linux or macOS path, whatever
// system writes the file that names it.
func unixSupervisor(exe string) string {
	return path.Join(path.Dir(exe), "cardbridge-supervisor")
}

// ErrNotAdmin is returned by changes that need administrator rights when the
// caller lacks them.
var ErrNotAdmin = errors.New("needs administrator rights")

// AdminHint tells the user how to get administrator rights on this platform.
func AdminHint() string {
	if runtime.GOOS == "windows" {
		return "run it from a command prompt opened with \"Run as administrator\""
	}
	return "run it with sudo"
}

// AgentExecutable finds the cardbridge program to start at login: beside
// the running port service program, with cardbridge-supervisor beside it
// where a login entry starts that (not on macOS, whose launchd keeps the
// agent running).
func AgentExecutable(serviceExe string) (string, error) {
	name := "cardbridge"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	beside := filepath.Join(filepath.Dir(serviceExe), name)
	if fi, err := os.Stat(beside); err != nil || fi.IsDir() {
		return "", fmt.Errorf("the agent program %s is not beside %s: install the cardbridge programs in the same folder", name, serviceExe)
	}
	if runtime.GOOS != "darwin" {
		if fi, err := os.Stat(SupervisorProgram(beside)); err != nil || fi.IsDir() {
			return "", fmt.Errorf("the program %s, which keeps the agent running, is not beside %s: install the cardbridge programs in the same folder", filepath.Base(SupervisorProgram(beside)), serviceExe)
		}
	}
	return beside, nil
}

// systemdCommand renders a command line for a systemd Exec line: every
// argument holding a space, quote, backslash or specifier is double-quoted
// with systemd's escapes.
func systemdCommand(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'\\$%") {
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
			a = `"` + r.Replace(a) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
