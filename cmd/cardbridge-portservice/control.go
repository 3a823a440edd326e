package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/internal/cli"
)

// Exit codes of `status`, as init scripts use them.
const (
	exitStopped      = 3
	exitNotInstalled = 4
)

// control is the command verb, which does act to the installed service.
func (c commands) control(verb string, act func(installer.Service, io.Writer) error) cli.Command {
	return cli.Command{Names: []string{verb}, Run: func(_ context.Context, args []string) error {
		svc, err := c.service(verb, args)
		if err == nil {
			err = act(svc, c.stdout)
		}
		if errors.Is(err, installer.ErrNotAdmin) {
			return fmt.Errorf("%w: %s", err, installer.AdminHint())
		}
		return err
	}}
}

// service checks the flags of verb and describes the service: this
// program, and for install the flags it is to run with.
func (c commands) service(verb string, args []string) (installer.Service, error) {
	var svcArgs []string
	if verb == "install" {
		var err error
		if svcArgs, err = installArgs(args, c.stdout, c.stderr); err != nil {
			return installer.Service{}, err
		}
	} else if err := cli.NewFlags("cardbridge-portservice "+verb, verbSummary[verb], true, c.stdout, c.stderr).Parse(args); err != nil {
		return installer.Service{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return installer.Service{}, fmt.Errorf("find this program: %w", err)
	}
	return installer.Service{Exe: exe, Args: svcArgs}, nil
}

// status shows whether the service is installed and running, and exits
// 0 when it runs, 3 when it is stopped and 4 when it is not installed.
func status(svc installer.Service, stdout io.Writer) error {
	st, err := installer.Status(svc)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", installer.ServiceName, st.Service)
	login := "agent login start: " + st.Login
	if st.Detail != "" {
		login += " (" + st.Detail + ")"
	}
	fmt.Fprintln(stdout, login)
	switch st.Service {
	case installer.StateRunning:
		return nil
	case installer.StateStopped:
		return cli.Exit(exitStopped)
	default:
		return cli.Exit(exitNotInstalled)
	}
}

// installArgs checks install's flags, which are run's, and returns them as
// the installed service's arguments after `run`: only the flags given (on
// the command line or as CARDBRIDGE_<FLAG>), so the defaults stay the
// program's own.
func installArgs(args []string, stdout, stderr io.Writer) ([]string, error) {
	fs, f := newRunFlags("install", verbSummary["install"], stdout, stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if _, err := f.options(fs.Origin); err != nil {
		return nil, cli.Usage(err)
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
		return nil, cli.Usagef("--%s cannot be changed under systemd: the service keeps its state and log in /var/lib/cardbridge and its socket in /run/cardbridge", fixed)
	}
	return out, nil
}

// verbSummary describes the service-control commands for their --help.
var verbSummary = map[string]string{
	"install":   "Installs the port service as a system service, started at boot, with the flags given here, and the agent's start at each user's login. Needs administrator rights.",
	"uninstall": "Stops and removes the port service and the agent's start at login. Keeps the state directory.",
	"start":     "Starts the installed port service.",
	"stop":      "Stops the installed port service.",
	"status":    "Says whether the port service is installed and running (exit 0 running, 3 stopped, 4 not installed).",
}
