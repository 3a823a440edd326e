// Command cardbridge-portservice is the port broker system service for
// multi-session hosts: see `cardbridge-portservice help`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
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
  cardbridge-portservice run [flags]     run in the foreground
  cardbridge-portservice version         show the build

Flags of run:
  --state-dir DIR       PortStore.txt, DomainList.txt and the log (default ` + defaultStateDir + `)
  --ports LIST          well-known ports, first free one used (default 43487,44213,45031,46478,48853)
  --range LO-HI         per-user ports (default 55000-55999)
  --socket PATH         where agents register (default ` + localsock.DefaultPath + `)
  --trusted-url URL     refresh the DomainList from URL every few hours
  --log FILE            log file (default <state-dir>/portservice.log)
  --log-level LEVEL     debug, info, warn or error
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "cardbridge-portservice "+version.Get().String()[len("cardbridge "):])
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	case "install", "uninstall", "start", "stop", "status":
		fmt.Fprintf(stderr, "cardbridge-portservice %s: not available in this version; run it with `cardbridge-portservice run` under your service manager\n", args[0])
		return 1
	}
	fmt.Fprintf(stderr, "cardbridge-portservice: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", defaultStateDir, "state directory")
	ports := fs.String("ports", "43487,44213,45031,46478,48853", "well-known ports")
	prange := fs.String("range", "55000-55999", "per-user port range")
	socket := fs.String("socket", localsock.DefaultPath, "agents' socket")
	trustedURL := fs.String("trusted-url", "", "DomainList refresh URL")
	logFile := fs.String("log", "", "log file")
	logLevel := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opt := portservice.Options{StateDir: *stateDir, Socket: *socket, TrustedURL: *trustedURL}
	var err error
	if opt.Ports, err = parsePorts(*ports); err != nil {
		fmt.Fprintf(stderr, "cardbridge-portservice: --ports: %v\n", err)
		return 2
	}
	if opt.Lo, opt.Hi, err = parseRange(*prange); err != nil {
		fmt.Fprintf(stderr, "cardbridge-portservice: --range: %v\n", err)
		return 2
	}
	if *logFile == "" {
		*logFile = *stateDir + string(os.PathSeparator) + "portservice.log"
	}
	log, closer, err := logging.New(logging.Options{File: *logFile, Level: *logLevel})
	if err != nil {
		fmt.Fprintf(stderr, "cardbridge-portservice: %v\n", err)
		return 1
	}
	defer closer.Close()
	opt.Logger = log
	// One service holds a registration for every user on a terminal
	// server; keep its heap near its live data (GOGC still overrides).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	svc, err := portservice.New(opt)
	if err == nil {
		var handled bool
		handled, err = underServiceManager(svc.Run, svc.SessionChanged)
		if !handled && err == nil {
			err = svc.Run(ctx)
		}
	}
	if err != nil {
		log.Error().Err(err).Msg("port service failed")
		fmt.Fprintf(stderr, "cardbridge-portservice: %v\n", err)
		return 1
	}
	return 0
}

func parsePorts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%q is not a port", f)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q: want LO-HI within 1024-65535", s)
	}
	return lo, hi, nil
}
