//go:build !linux && !windows && !darwin

package installer

import (
	"errors"
	"runtime"
)

func installLogin(string) (string, error) {
	return "", errors.New("starting the agent at login is not supported on " + runtime.GOOS + ": start `cardbridge agent` from the session's startup")
}

func uninstallLogin() (string, error) { return "", nil }

func loginStatus() (string, string) { return StateNotInstalled, "" }

// managedByPackage reports "": no cardbridge package is made for this
// platform.
func managedByPackage() string { return "" }
