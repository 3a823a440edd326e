// Command cardbridge is the per-user smartcard credential agent and its
// command line: see `cardbridge help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `cardbridge: a local bridge between web pages and your smartcard.

Usage:
  cardbridge agent [--listen 127.0.0.1:43485]  run the local server web pages talk to
                   [--domains FILE] [--log FILE] [--log-level info]
  cardbridge card [--json] [--timeout 15s]   show readers, cards and card holders
  cardbridge doctor [--json]                 check everything a smartcard login needs, and say how to fix it
  cardbridge version [--json]                show the build
  cardbridge help                            show this text
`

// run carries out one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "agent":
		return cmdAgent(ctx, args[1:], stdout, stderr)
	case "card":
		return cmdCard(ctx, args[1:], stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(args[1:], stdout, stderr)
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "cardbridge: unknown command %q\n\n%s", args[0], usage)
	return 2
}
