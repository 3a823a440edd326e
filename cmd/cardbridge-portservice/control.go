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
	"github.com/cardbridge/cardbridge/internal/flagenv"
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
		var ok bool
		if svcArgs, ok = installArgs(args, c.stderr); !ok {
			return installer.Service{}, cli.Usage(nil)
		}
	} else if err := flagenv.Parse(cli.NewFlagSet(verb, c.stderr), args); err != nil {
		return installer.Service{}, cli.Usage(nil)
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
