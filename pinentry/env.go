package pinentry

import "strings"

// keptEnv names the variables a pinentry program gets from the agent's
// environment when Program.Env is nil: what a graphical or terminal prompt
// needs to reach the user's display, session bus, terminal and language, and
// nothing else. platformEnv adds what the platform itself needs.
var keptEnv = []string{
	"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS",
	"XDG_RUNTIME_DIR", "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP",
	"HOME", "PATH", "USER", "LOGNAME", "TMPDIR",
	"LANG", "LANGUAGE", "GPG_TTY", "TERM", "TERMINFO",
}

// minimalEnv keeps from environ (KEY=value lines) only the variables in
// keptEnv and platformEnv, and every LC_* variable.
func minimalEnv(environ []string) []string {
	out := []string{}
	for _, kv := range environ {
		key, _, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			continue
		}
		if keepEnv(key) {
			out = append(out, kv)
		}
	}
	return out
}

// keepEnv reports whether the variable key is passed to the program.
func keepEnv(key string) bool {
	if hasPrefixFold(key, "LC_") {
		return true
	}
	for _, lists := range [][]string{keptEnv, platformEnv} {
		for _, k := range lists {
			if envKeyEqual(key, k) {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold is strings.HasPrefix with the platform's case rule for
// variable names.
func hasPrefixFold(key, prefix string) bool {
	return len(key) >= len(prefix) && envKeyEqual(key[:len(prefix)], prefix)
}

// getenv is the value of key in env, the last one winning as in exec.
func getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && envKeyEqual(k, key) {
			v = val
		}
	}
	return v
}

// firstEnv is the first of keys that is set and not empty in env.
func firstEnv(env []string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(env, k); v != "" {
			return v
		}
	}
	return ""
}
