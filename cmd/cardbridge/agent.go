package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/cardbridge/cardbridge/agentd"
	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/internal/flagenv"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// agent runs the agent, or with --supervise keeps it running.
func (c commands) agent(ctx context.Context, args []string) error {
	fs := cli.NewFlagSet("agent", c.stderr)
	var opt agentd.Options
	var keepRunning bool
	fs.BoolVar(&keepRunning, "supervise", false, "keep the agent running: start it again whenever it stops unexpectedly (used at login)")
	fs.StringVar(&opt.Listen, "listen", "", "standalone: serve on this loopback address, e.g. 127.0.0.1:43485, and do not ask the port service")
	fs.StringVar(&opt.PortService, "portservice", localsock.DefaultPath, "the port service's local socket")
	fs.StringVar(&opt.Domains, "domains", "", "a DomainList file to use instead of the port service's")
	fs.StringVar(&opt.PINEntry, "pinentry", "", "a PIN prompt program speaking GnuPG's pinentry protocol (default: the Windows credential dialog on Windows; elsewhere a graphical pinentry found on PATH)")
	fs.StringVar(&opt.LogFile, "log", "", "log file (default: the per-user log directory)")
	fs.StringVar(&opt.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&opt.UpgradeCheck, "upgrade-check", 10*time.Second, "how often to look for an upgraded cardbridge executable, to restart onto it when no signing is under way (0: never; not on Windows)")
	if err := flagenv.Parse(fs, args); err != nil {
		return cli.Usage(nil)
	}
	if keepRunning {
		var childArgs []string
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name != "supervise" {
				childArgs = append(childArgs, "--"+fl.Name+"="+fl.Value.String())
			}
		})
		return supervise(ctx, childArgs, c.stderr)
	}
	err := agentd.Run(ctx, opt)
	if errors.Is(err, portservice.ErrAlreadyRunning) {
		return &cli.ExitError{Code: exitAlreadyRunning, Err: err}
	}
	return err
}
