package installer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cardbridge/cardbridge/atomicfile"
)

// root is where the Linux login files are written: "/" except in tests.
var root = "/"

// Where a manual install puts the agent's login files (a package ships the
// unit in /usr/lib/systemd/user instead).
const (
	etcUserUnitDir = "/etc/systemd/user"
	autostartDir   = "/etc/xdg/autostart"
)

// userUnitDirs are where systemd looks for user units, most specific first.
var userUnitDirs = []string{etcUserUnitDir, "/usr/lib/systemd/user", "/lib/systemd/user"}

func inRoot(path string) string { return filepath.Join(root, path) }

// installLogin writes the agent's systemd user unit and XDG autostart entry
// and enables the unit for every user.
func installLogin(agentExe string) (string, error) {
	unit := filepath.Join(etcUserUnitDir, AgentName+".service")
	desktop := filepath.Join(autostartDir, AgentName+".desktop")
	for _, f := range []File{
		{Path: unit, Data: SystemdAgentUnit(agentExe), Mode: 0o644},
		{Path: desktop, Data: XDGAutostartEntry(agentExe), Mode: 0o644},
	} {
		if err := writeFile(inRoot(f.Path), f.Data, os.FileMode(f.Mode)); err != nil {
			return "", err
		}
	}
	if err := systemctlGlobal("enable", AgentName+".service"); err != nil {
		return "", err
	}
	return fmt.Sprintf("systemd user unit %s (enabled for every user), autostart entry %s", unit, desktop), nil
}

// uninstallLogin disables the agent's user unit and removes the files
// installLogin wrote.
func uninstallLogin() (string, error) {
	var removed []string
	if unitFile() != "" {
		if err := systemctlGlobal("disable", AgentName+".service"); err != nil {
			return "", err
		}
	}
	for _, p := range []string{
		filepath.Join(etcUserUnitDir, AgentName+".service"),
		filepath.Join(autostartDir, AgentName+".desktop"),
	} {
		err := os.Remove(inRoot(p))
		switch {
		case err == nil:
			removed = append(removed, p)
		case !errors.Is(err, os.ErrNotExist):
			return "", err
		}
	}
	return strings.Join(removed, ", "), nil
}

// loginStatus reports whether the agent starts at login.
func loginStatus() (string, string) {
	unit := unitFile()
	enabled := false
	if _, err := os.Lstat(inRoot(filepath.Join(etcUserUnitDir, "default.target.wants", AgentName+".service"))); err == nil {
		enabled = true
	}
	desktop := filepath.Join(autostartDir, AgentName+".desktop")
	_, derr := os.Stat(inRoot(desktop))
	var parts []string
	if unit != "" {
		state := "disabled"
		if enabled {
			state = "enabled"
		}
		parts = append(parts, fmt.Sprintf("user unit %s (%s)", unit, state))
	}
	if derr == nil {
		parts = append(parts, "autostart entry "+desktop)
	}
	if (unit != "" && enabled) || derr == nil {
		return StateInstalled, strings.Join(parts, ", ")
	}
	return StateNotInstalled, strings.Join(parts, ", ")
}

// unitFile is the agent's user unit systemd would use, or "".
func unitFile() string {
	for _, d := range userUnitDirs {
		p := filepath.Join(d, AgentName+".service")
		if _, err := os.Stat(inRoot(p)); err == nil {
			return p
		}
	}
	return ""
}

// systemctlGlobal runs `systemctl --global VERB UNIT`, which changes the
// user units of every user through files alone (no running manager needed).
func systemctlGlobal(verb, unit string) error {
	args := []string{"--global", verb, unit}
	if root != "/" {
		args = append([]string{"--root=" + root}, args...)
	}
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// writeFile writes data to path, creating its directory, replacing any
// earlier file whole.
func writeFile(path, data string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(data), mode)
}

// packageUnitDirs are where a distribution package puts system units.
var packageUnitDirs = []string{"/lib/systemd/system", "/usr/lib/systemd/system"}

// managedByPackage names the package that installed the port service, or
// "": a package's unit is changed through the package and its settings file
// (/etc/default/cardbridge-portservice), not by install and uninstall.
func managedByPackage() string {
	for _, d := range packageUnitDirs {
		p := filepath.Join(d, ServiceName+".service")
		if _, err := os.Stat(inRoot(p)); err == nil {
			return "the cardbridge package (" + p + "; settings in /etc/default/" + ServiceName + ")"
		}
	}
	return ""
}
