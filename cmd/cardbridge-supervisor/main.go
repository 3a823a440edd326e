// Command cardbridge-supervisor keeps a user's agent running for the login
// session: the Windows Run key and the Linux autostart entry start it at
// login, and it runs `cardbridge agent` with its own arguments, starting it
// again whenever it stops unexpectedly.
//
//	cardbridge-supervisor [agent flags]
//
// It is `cardbridge agent --supervise` in a program of its own, built
// without cgo and with little but os/exec in it: a terminal server runs one
// for every logged-in user and starts hundreds at once when a shift logs
// in, and this one takes less CPU to start and holds less private memory
// than a second copy of the whole agent program would (the README has the
// figures).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/cardbridge/cardbridge/internal/supervise"
	"github.com/cardbridge/cardbridge/version"
)

const usage = `cardbridge-supervisor: keeps this user's cardbridge agent running.

Usage:
  cardbridge-supervisor [agent flags]
  cardbridge-supervisor --version

Runs 'cardbridge agent' (the cardbridge program in this program's folder)
with the flags given, and starts it again whenever it stops unexpectedly,
waiting 1 s, then up to a minute, between starts. It stops when the agent
exits cleanly, for a bad flag (exit 64), when this user's agent already runs
(exit 3), or when the session ends. Run 'cardbridge agent --help' for the
flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run supervises the agent with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && slices.Contains([]string{"help", "-h", "-help", "--help"}, args[0]) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if len(args) == 1 && slices.Contains([]string{"version", "-version", "--version"}, args[0]) {
		info := version.Get()
		info.Product = "cardbridge-supervisor"
		fmt.Fprintln(stdout, info)
		return 0
	}
	for _, a := range args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "supervise" {
			fmt.Fprintf(stderr, "cardbridge-supervisor: %s: the supervisor already keeps the agent running\n", a)
			return supervise.ExitUsage
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "cardbridge-supervisor: find this program:", err)
		return 1
	}
	agent := supervise.AgentProgram(exe)
	if _, err := os.Stat(agent); err != nil {
		fmt.Fprintf(stderr, "cardbridge-supervisor: the cardbridge program is not beside this one: %v\n", err)
		return 1
	}
	code, err := supervise.Run(ctx, agent, append([]string{"agent"}, args...), stderr)
	if err != nil {
		fmt.Fprintln(stderr, "cardbridge-supervisor:", err)
		return 1
	}
	return code
}
