// Command cardbridge-portservice is the port broker system service for
// multi-session hosts: see `cardbridge-portservice help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/policy"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
	"github.com/cardbridge/cardbridge/portservice/server"
	"github.com/cardbridge/cardbridge/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `cardbridge-portservice: gives every user's cardbridge agent a port of its own.

Usage:
  cardbridge-portservice run [flags]       run in the foreground
  cardbridge-portservice install [flags]   install as a system service that runs with these
                                           flags, start it, and start the agent at every login
  cardbridge-portservice uninstall         remove the service and the agent's login start
                                           (PortStore.txt, DomainList.txt and logs are kept)
  cardbridge-portservice start | stop      start or stop the installed service
  cardbridge-portservice status            show whether it is installed and running
                                           (exit 0 running, 3 stopped, 4 not installed)
  cardbridge-portservice version           show the build

install, uninstall, start and stop need administrator rights. Under systemd
the service keeps its state in /var/lib/cardbridge and its socket in
/run/cardbridge, so install takes no --state-dir, --socket or --log there.

Flags of run and install (each also read from CARDBRIDGE_<FLAG>, e.g. CARDBRIDGE_TRUSTED_URL):
  --state-dir DIR       PortStore.txt, DomainList.txt and the log (default ` + defaultStateDir + `)
  --ports LIST          well-known ports, first free one used (default 43487,44213,45031,46478,48853)
  --range LO-HI         per-user ports (default 55000-55999)
  --socket PATH         where agents register (default ` + localsock.DefaultPath + `)
  --trusted-url URL     refresh the DomainList from URL every few hours
  --domainlist-seed LIST
                        the DomainList to start with when the state directory has
                        none: origins separated by ';' (the MSI's DOMAINLIST)
  --log FILE            log file (default <state-dir>/portservice.log)
  --log-level LEVEL     debug, info, warn or error
`

// commands are the port service's sub-commands, printing on stdout and
// stderr.
type commands struct{ stdout, stderr io.Writer }

// run carries out one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := commands{stdout: stdout, stderr: stderr}
	return cli.Program{
		Name:  "cardbridge-portservice",
		Usage: usage,
		Help:  []string{"help", "--help", "-h"},
		Commands: []cli.Command{
			{Names: []string{"run"}, Label: "cardbridge-portservice", Run: c.run},
			c.control("install", installer.Install),
			c.control("uninstall", installer.Uninstall),
			c.control("start", installer.Start),
			c.control("stop", installer.Stop),
			c.control("status", status),
			{Names: []string{"version", "--version"}, Run: c.version},
		},
	}.Run(ctx, args, stdout, stderr)
}

// version prints the build.
func (c commands) version(context.Context, []string) error {
	fmt.Fprintln(c.stdout, "cardbridge-portservice "+version.Get().String()[len("cardbridge "):])
	return nil
}

// runFlags are the flags of `run`, which `install` records for the service.
type runFlags struct {
	stateDir, ports, prange, socket, trustedURL, logFile, logLevel string

	domainListSeed string // --domainlist-seed (domainlist.ParseSeed)
}

// newRunFlags declares the flags of `run` (and `install`) on a new set.
func newRunFlags(name, summary string, stdout, stderr io.Writer) (*cli.Flags, *runFlags) {
	fs := cli.NewFlags("cardbridge-portservice "+name, summary, true, stdout, stderr)
	f := &runFlags{}
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir, "the `DIRECTORY` holding PortStore.txt, DomainList.txt and the log")
	fs.StringVar(&f.ports, "ports", portservice.FormatPorts(portservice.DefaultPorts), "the well-known `PORTS` pages ask which port is their user's, comma-separated, in the order pages try them")
	fs.StringVar(&f.prange, "range", portservice.DefaultRange.String(), "the `RANGE` (LO-HI, within 1024-65535) each user's agent is given its own port from")
	fs.StringVar(&f.socket, "socket", localsock.DefaultPath, "the local socket (a named pipe on Windows) agents register over")
	fs.StringVar(&f.trustedURL, "trusted-url", "", "the `URL` the DomainList is refreshed from (none: the DomainList file, else the built-in one)")
	fs.StringVar(&f.domainListSeed, "domainlist-seed", "", "the DomainList to start with when the state directory has none: origins separated by ';' (the MSI's DOMAINLIST); an existing DomainList.txt is kept")
	fs.StringVar(&f.logFile, "log", "", "the log `FILE` (default: portservice.log in the state directory)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return fs, f
}

// options checks the flags and turns them into the service's options; a
// wrong value is named by where it was set (origin of the flag's name: the
// flag, its environment variable or a policy).
func (f *runFlags) options(origin func(flag string) string) (server.Options, error) {
	opt := server.Options{StateDir: f.stateDir, Socket: f.socket, TrustedURL: f.trustedURL}
	var err error
	if opt.Ports, err = portservice.ParsePorts(f.ports); err != nil {
		return opt, fmt.Errorf("%s: %w", origin("ports"), err)
	}
	if opt.Range, err = portservice.ParseRange(f.prange); err != nil {
		return opt, fmt.Errorf("%s: %w", origin("range"), err)
	}
	if _, err := logging.ParseLevel(f.logLevel); err != nil {
		return opt, fmt.Errorf("%s: %q is not debug, info, warn or error", origin("log-level"), f.logLevel)
	}
	if opt.DomainListSeed, err = domainlist.ParseSeed(f.domainListSeed); err != nil {
		return opt, fmt.Errorf("%s: %w", origin("domainlist-seed"), err)
	}
	return opt, nil
}

// run runs the port service in the foreground, or under the Windows
// service control manager when it started the process.
func (c commands) run(ctx context.Context, args []string) error {
	fs, f := newRunFlags("run", "Runs the port service in the foreground (or under the Windows service manager when it starts it).", c.stdout, c.stderr)
	fs.Policy = policy.Load()
	if err := fs.Parse(args); err != nil {
		return err
	}
	opt, err := f.options(fs.Origin)
	if err != nil {
		return cli.Usage(err)
	}
	opt.Settings, opt.PolicyProblems = fs.Settings(), fs.Policy.Problems
	if f.logFile == "" {
		f.logFile = f.stateDir + string(os.PathSeparator) + "portservice.log"
	}
	log, closer, err := logging.New(logging.Options{File: f.logFile, Level: f.logLevel, EventSource: installer.ServiceName})
	if err != nil {
		return err
	}
	defer closer.Close()
	opt.Logger = log
	policy.Log(log, opt.Settings, opt.PolicyProblems)
	// One service holds a registration for every user on a terminal
	// server; keep its heap near its live data (GOGC still overrides).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	svc, err := server.New(opt)
	if err == nil {
		var handled bool
		handled, err = underServiceManager(svc.Run, svc.SessionChanged, log)
		if !handled && err == nil {
			err = svc.Run(ctx)
		}
	}
	if err != nil {
		log.Error().Err(err).Msg("port service failed")
	}
	return err
}
