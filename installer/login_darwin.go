package installer

import (
	"errors"
	"os"

	"github.com/cardbridge/cardbridge/atomicfile"
)

// launchAgentPath is the per-machine LaunchAgent that starts the agent in
// every user's login session.
const launchAgentPath = "/Library/LaunchAgents/" + LaunchdAgentLabel + ".plist"

// installLogin writes the LaunchAgent; launchd loads it at each login.
func installLogin(agentExe string) (string, error) {
	if err := atomicfile.Write(launchAgentPath, []byte(LaunchAgentPlist(agentExe)), 0o644); err != nil {
		return "", err
	}
	return launchAgentPath + " (from each user's next login)", nil
}

// uninstallLogin removes the LaunchAgent.
func uninstallLogin() (string, error) {
	err := os.Remove(launchAgentPath)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return launchAgentPath, nil
}

// loginStatus reports whether the LaunchAgent is there.
func loginStatus() (string, string) {
	if _, err := os.Stat(launchAgentPath); err != nil {
		return StateNotInstalled, ""
	}
	return StateInstalled, launchAgentPath
}

// managedByPackage reports "": no cardbridge package is made for this
// platform.
func managedByPackage() string { return "" }
