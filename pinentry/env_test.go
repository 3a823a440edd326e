package pinentry

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMinimalEnv(t *testing.T) {
	in := []string{
		"DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0", "XAUTHORITY=/run/user/1000/xauth",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus", "XDG_RUNTIME_DIR=/run/user/1000",
		"HOME=/home/nurse", "PATH=/usr/bin:/bin", "LANG=en_GB.UTF-8", "LC_ALL=en_GB.UTF-8",
		"LC_CTYPE=en_GB.UTF-8", "GPG_TTY=/dev/pts/1", "TERM=xterm",
		"AWS_SECRET_ACCESS_KEY=x", "CARDBRIDGE_TOKEN=y", "LD_PRELOAD=/tmp/evil.so",
		"SSH_AUTH_SOCK=/tmp/ssh", "display=lower", "MALFORMED", "=empty",
	}
	want := []string{
		"DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0", "XAUTHORITY=/run/user/1000/xauth",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus", "XDG_RUNTIME_DIR=/run/user/1000",
		"HOME=/home/nurse", "PATH=/usr/bin:/bin", "LANG=en_GB.UTF-8", "LC_ALL=en_GB.UTF-8",
		"LC_CTYPE=en_GB.UTF-8", "GPG_TTY=/dev/pts/1", "TERM=xterm",
	}
	if runtime.GOOS == "windows" {
		// Variable names ignore case there: display is DISPLAY.
		want = append(want, "display=lower")
	}
	if got := minimalEnv(in); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("minimalEnv:\n%q\nwant:\n%q", got, want)
	}
	if got := minimalEnv(nil); got == nil || len(got) != 0 {
		t.Errorf("minimalEnv(nil) = %#v, want an empty, non-nil environment", got)
	}
}

func TestSetupCommands(t *testing.T) {
	env := []string{"GPG_TTY=/dev/pts/3", "TERM=vt100", "LANG=C.UTF-8", "LC_ALL=", "LC_MESSAGES=cy_GB.UTF-8", "LANG=en_GB.UTF-8"}
	var got []string
	for _, c := range setupCommands(Request{Description: "d", Prompt: "PIN:", Timeout: 1500 * time.Millisecond}, env) {
		mark := ""
		if c.required {
			mark = "!"
		}
		got = append(got, mark+c.line)
	}
	want := []string{
		"OPTION ttyname=/dev/pts/3", "OPTION ttytype=vt100", "OPTION lc-ctype=en_GB.UTF-8",
		"OPTION lc-messages=cy_GB.UTF-8", "!SETDESC d", "SETPROMPT PIN:", "SETTIMEOUT 2",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("setupCommands:\n%q\nwant:\n%q", got, want)
	}
}
