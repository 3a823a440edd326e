package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cardbridge/cardbridge/internal/flagenv"
)

// Flags is a sub-command's flags: a flag.FlagSet whose --help (or -h)
// prints, on standard output and with exit code 0, the command's usage and
// every flag with its default and, where the command reads them, its
// CARDBRIDGE_* environment variable; a bad flag prints the flag package's
// message and a pointer to --help on standard error (exit 2).
type Flags struct {
	*flag.FlagSet
	cmd     string // "cardbridge agent"
	summary string
	env     bool
	stdout  io.Writer
}

// NewFlags makes the flags of the command line cmd ("cardbridge agent"),
// described in summary. env says whether CARDBRIDGE_<FLAG> environment
// variables set flags not given (flagenv).
func NewFlags(cmd, summary string, env bool, stdout, stderr io.Writer) *Flags {
	name := cmd
	if i := strings.LastIndexByte(cmd, ' '); i >= 0 {
		name = cmd[i+1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // help and errors are printed by Parse
	return &Flags{FlagSet: fs, cmd: cmd, summary: summary, env: env, stdout: stdout}
}

// Parse parses args, which must be flags only. --help prints the help and
// ends the command with exit code 0; anything wrong is a usage error.
func (f *Flags) Parse(args []string) error {
	var err error
	if f.env {
		err = flagenv.Parse(f.FlagSet, args)
	} else if err = f.FlagSet.Parse(args); err == nil && f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected argument %q\n", f.Arg(0))
		err = errors.New("unexpected argument")
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.PrintHelp(f.stdout)
		return &ExitError{Code: 0}
	case err != nil:
		fmt.Fprintf(f.Output(), "Run '%s --help' for its flags.\n", f.cmd)
		return Usage(nil)
	}
	return nil
}

// PrintHelp writes the command's usage and flags.
func (f *Flags) PrintHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n", f.cmd, f.summary)
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	f.VisitAll(func(fl *flag.Flag) {
		arg, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "        %s\n", usage)
		var notes []string
		if shown(fl) {
			notes = append(notes, fmt.Sprintf("default: %s", fl.DefValue))
		}
		if f.env {
			notes = append(notes, "environment: "+flagenv.Name(fl.Name))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "        (%s)\n", strings.Join(notes, "; "))
		}
	})
}

// shown reports whether a flag's default says something: not empty, false
// or zero.
func shown(fl *flag.Flag) bool {
	switch fl.DefValue {
	case "", "false", "0", "0s":
		return false
	}
	return true
}
