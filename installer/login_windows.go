package installer

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// RunKey is the per-machine key whose values Windows starts at every
// user's logon; RunValue names cardbridge's.
const (
	RunKey   = `SOFTWARE\Microsoft\Windows\CurrentVersion\Run`
	RunValue = "cardbridge"
)

// AgentCommand is the Run value's command line for the agent program exe:
// the supervisor beside it, which keeps the agent running.
func AgentCommand(exe string) string {
	cmd := supervisedCommand(SupervisorProgram(exe), windowsPipe)
	return `"` + cmd[0] + `" ` + strings.Join(cmd[1:], " ")
}

// installLogin sets the per-machine Run value that starts the agent at
// every user's logon.
func installLogin(agentExe string) (string, error) {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, RunKey, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", err
	}
	defer k.Close()
	if err := k.SetStringValue(RunValue, AgentCommand(agentExe)); err != nil {
		return "", err
	}
	return fmt.Sprintf(`HKLM\%s value %q`, RunKey, RunValue), nil
}

// uninstallLogin removes the Run value.
func uninstallLogin() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, RunKey, registry.SET_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer k.Close()
	err = k.DeleteValue(RunValue)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`HKLM\%s value %q`, RunKey, RunValue), nil
}

// loginStatus reports whether the Run value is set, and its command.
func loginStatus() (string, string) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, RunKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return StateNotInstalled, ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue(RunValue)
	if err != nil {
		return StateNotInstalled, ""
	}
	return StateInstalled, fmt.Sprintf(`HKLM\%s value %q: %s`, RunKey, RunValue, v)
}

// msiKey is where the cardbridge MSI keeps its settings and install folder.
const msiKey = `SOFTWARE\cardbridge`

// managedByPackage names the MSI when it installed the port service, or "":
// an MSI install is changed by reinstalling the MSI with new properties and
// removed from Apps (or msiexec /x), not by install and uninstall.
func managedByPackage() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, msiKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	dir, _, err := k.GetStringValue("InstallDir")
	if err != nil {
		return ""
	}
	return "the cardbridge MSI (" + dir + "; settings as msiexec properties)"
}
