package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/internal/flagenv"
)

// Exit codes of `status`, as init scripts use them.
const (
	exitStopped      = 3
	exitNotInstalled = 4
)

// cmdControl carries out install, uninstall, start, stop and status.
func cmdControl(verb string, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		if errors.Is(err, installer.ErrNotAdmin) {
			fmt.Fprintf(stderr, "cardbridge-portservice %s: %v: %s\n", verb, err, installer.AdminHint())
		} else {
			fmt.Fprintf(stderr, "cardbridge-portservice %s: %v\n", verb, err)
		}
		return 1
	}
	var svcArgs []string
	if verb == "install" {
		var ok bool
		if svcArgs, ok = installArgs(args, stderr); !ok {
			return 2
		}
	} else {
		fs := flag.NewFlagSet(verb, flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := flagenv.Parse(fs, args); err != nil {
			return 2
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(fmt.Errorf("find this program: %w", err))
	}
	svc := installer.Service{Exe: exe, Args: svcArgs}
	switch verb {
	case "install":
		err = installer.Install(svc, stdout)
	case "uninstall":
		err = installer.Uninstall(svc, stdout)
	case "start":
		err = installer.Start(svc, stdout)
	case "stop":
		err = installer.Stop(svc, stdout)
	case "status":
		st, err := installer.Status(svc)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", installer.ServiceName, st.Service)
		login := "agent login start: " + st.Login
		if st.Detail != "" {
			login += " (" + st.Detail + ")"
		}
		fmt.Fprintln(stdout, login)
		switch st.Service {
		case installer.StateRunning:
			return 0
		case installer.StateStopped:
			return exitStopped
		default:
			return exitNotInstalled
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// installArgs checks install's flags, which are run's, and returns them as
// the installed service's arguments after `run`: only the flags given (on
// the command line or as CARDBRIDGE_<FLAG>), so the defaults stay the
// program's own.
func installArgs(args []string, stderr io.Writer) ([]string, bool) {
	fs, f := newRunFlags("install", stderr)
	if err := flagenv.Parse(fs, args); err != nil {
		return nil, false
	}
	if _, err := f.options(); err != nil {
		fmt.Fprintf(stderr, "cardbridge-portservice install: %v\n", err)
		return nil, false
	}
	var out []string
	fixed := ""
	fs.Visit(func(fl *flag.Flag) {
		out = append(out, "--"+fl.Name, fl.Value.String())
		if runtime.GOOS == "linux" && (fl.Name == "state-dir" || fl.Name == "socket" || fl.Name == "log") {
			fixed = fl.Name
		}
	})
	if fixed != "" {
		// The hardened unit runs the service as a dynamic user that may
		// write only to its StateDirectory and RuntimeDirectory.
		fmt.Fprintf(stderr, "cardbridge-portservice install: --%s cannot be changed under systemd: the service keeps its state and log in /var/lib/cardbridge and its socket in /run/cardbridge\n", fixed)
		return nil, false
	}
	return out, true
}
