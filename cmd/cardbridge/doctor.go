package main

import (
	"context"
	"os"
	"os/user"
	"runtime"

	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/internal/flagenv"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/version"
)

// doctor runs the helpdesk check. It exits 0 when nothing failed
// (warnings allowed), 1 when something did, 2 on a bad command line.
func (c commands) doctor(ctx context.Context, args []string) error {
	fs := cli.NewFlags("cardbridge doctor", "Checks everything a smartcard login needs on this machine, for this user, and says how to fix what is wrong.", false, c.stdout, c.stderr)
	asJSON := fs.Bool("json", false, "print JSON for scripts: {checks:[{id,name,status,detail,fix}],summary,ok}")
	ports := fs.String("ports", portservice.FormatPorts(portservice.DefaultPorts), "the port service's well-known ports, in the order pages try them")
	port := fs.Int("port", doctor.DefaultStandalonePort, "where a standalone agent (--listen) would listen; 0 not to look")
	stateDir := fs.String("state-dir", "", "the port service's state directory, for its log (default: as the port service says, else "+doctor.DefaultStateDir(runtime.GOOS)+")")
	agentLog := fs.String("log", os.Getenv("CARDBRIDGE_LOG"), "the agent's log file (default: $CARDBRIDGE_LOG, else the per-user log directory)")
	pinEntry := fs.String("pinentry", os.Getenv(flagenv.Name("pinentry")), "the PIN prompt program the agent is given with --pinentry, if any (default: $CARDBRIDGE_PINENTRY)")
	timeout := fs.Duration("timeout", doctor.DefaultTimeout, "give up on whatever has not answered after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wellKnown, err := portservice.ParsePorts(*ports)
	if err != nil {
		return cli.Usagef("--ports: %w", err)
	}
	if *port < 0 || *port > 65535 {
		return cli.Usagef("--port %d is not a port", *port)
	}
	standalone := *port
	if standalone == 0 {
		standalone = -1
	}
	rep := doctor.Run(ctx, doctor.Options{
		Probes:         doctor.NewSystem(),
		Ports:          wellKnown,
		StandalonePort: standalone,
		AgentLog:       *agentLog,
		StateDir:       *stateDir,
		Timeout:        *timeout,
		User:           whoAmI(),
		Version:        version.Version,
		PINEntry:       *pinEntry,
	})
	if *asJSON {
		_ = writeJSON(c.stdout, rep)
	} else if err := doctor.WriteText(c.stdout, rep); err != nil {
		return cli.Exit(1)
	}
	return cli.Exit(rep.ExitCode())
}

// whoAmI names the user running doctor: "alice (uid:1000)".
func whoAmI() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	id, err := peercred.Current()
	switch {
	case err != nil:
		return name
	case name == "":
		return id.ID
	}
	return name + " (" + id.ID + ")"
}
