// Command cardbridge is the per-user smartcard credential agent and its
// command line: see `cardbridge help`.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cardbridge/cardbridge/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `cardbridge: a local bridge between web pages and your smartcard.

Usage:
  cardbridge agent [flags]     run the local server web pages talk to: registered
                               with the port service, or on its own with --listen PORT
  cardbridge card [--json]     show readers, cards and card holders
  cardbridge doctor [--json]   check everything a smartcard login needs, and say how to fix it
  cardbridge version [--json]  show the build
  cardbridge help              show this text

Run 'cardbridge COMMAND --help' for a command's flags and their CARDBRIDGE_*
environment variables.
`

// commands are cardbridge's sub-commands, printing on stdout and stderr.
type commands struct{ stdout, stderr io.Writer }

// run carries out one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := commands{stdout: stdout, stderr: stderr}
	return cli.Program{
		Name:  "cardbridge",
		Usage: usage,
		Help:  []string{"help", "--help", "-help", "-h"},
		Commands: []cli.Command{
			{Names: []string{"agent"}, Run: c.agent},
			{Names: []string{"card"}, Run: c.card},
			{Names: []string{"doctor"}, Run: c.doctor},
			{Names: []string{"version", "--version", "-version"}, Run: c.version},
		},
	}.Run(ctx, args, stdout, stderr)
}
