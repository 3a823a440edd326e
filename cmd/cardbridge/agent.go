package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/agentd"
	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/internal/supervise"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/policy"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// agent runs the agent, or with --supervise keeps it running.
func (c commands) agent(ctx context.Context, args []string) error {
	fs := cli.NewFlags("cardbridge agent", "Runs the agent: the local web server pages talk to, for this user's smartcard.", true, c.stdout, c.stderr)
	var opt agentd.Options
	var keepRunning bool
	fs.BoolVar(&keepRunning, "supervise", false, "keep the agent running: start it again whenever it stops unexpectedly (used at login)")
	fs.StringVar(&opt.Listen, "listen", "", "standalone: serve on this loopback address, e.g. 127.0.0.1:43485, and do not ask the port service")
	fs.StringVar(&opt.PortService, "portservice", localsock.DefaultPath, "the port service's local socket")
	fs.StringVar(&opt.Domains, "domains", "", "a DomainList file to use instead of the port service's")
	fs.StringVar(&opt.PINEntry, "pinentry", "", "a PIN prompt `PROGRAM` speaking GnuPG's pinentry protocol (default: the Windows credential dialog on Windows; elsewhere a graphical pinentry found on PATH)")
	fs.StringVar(&opt.LogFile, "log", "", "log file (default: the per-user log directory)")
	fs.StringVar(&opt.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&opt.UpgradeCheck, "upgrade-check", 10*time.Second, "how long an upgraded cardbridge executable must stay unchanged before the agent restarts onto it, once no signing is under way (0: never; not on Windows)")
	fs.Policy = policy.Load()
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkAgentFlags(&opt, fs.Origin); err != nil {
		return cli.Usage(err)
	}
	opt.Settings, opt.PolicyProblems = fs.Settings(), fs.Policy.Problems
	// Without --portservice (or CARDBRIDGE_PORTSERVICE), an agent that
	// finds no port service serves standalone.
	opt.StandaloneFallback = true
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "portservice" {
			opt.StandaloneFallback = false
		}
	})
	if keepRunning {
		var childArgs []string
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name != "supervise" {
				childArgs = append(childArgs, "--"+fl.Name+"="+fl.Value.String())
			}
		})
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this program: %w", err)
		}
		code, err := supervise.Run(ctx, exe, append([]string{"agent"}, childArgs...), c.stderr)
		if err != nil {
			return err
		}
		return cli.Exit(code)
	}
	err := agentd.Run(ctx, opt)
	if errors.Is(err, portservice.ErrAlreadyRunning) {
		return &cli.ExitError{Code: supervise.ExitAlreadyRunning, Err: err}
	}
	return err
}

// checkAgentFlags checks the agent's flag values before anything starts,
// with one sentence for each that is wrong naming where it was set (origin
// of the flag's name: the flag, its environment variable or a policy), and
// completes --listen PORT to localhost:PORT.
func checkAgentFlags(opt *agentd.Options, origin func(flag string) string) error {
	if opt.Listen != "" && !strings.Contains(opt.Listen, ":") {
		port, err := strconv.Atoi(opt.Listen)
		if err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("%s %q is neither a port nor a loopback address such as 127.0.0.1:43485", origin("listen"), opt.Listen)
		}
		opt.Listen = "localhost:" + opt.Listen
	}
	if _, err := logging.ParseLevel(opt.LogLevel); err != nil {
		return fmt.Errorf("%s %q is not one of debug, info, warn or error", origin("log-level"), opt.LogLevel)
	}
	if opt.PINEntry != "" {
		fi, err := os.Stat(opt.PINEntry)
		switch {
		case err != nil:
			return fmt.Errorf("%s %s: no such program (%v)", origin("pinentry"), opt.PINEntry, errors.Unwrap(err))
		case !fi.Mode().IsRegular() || (runtime.GOOS != "windows" && fi.Mode()&0o111 == 0):
			return fmt.Errorf("%s %s is not an executable program", origin("pinentry"), opt.PINEntry)
		}
	}
	return nil
}
