package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/flagenv"
	"github.com/cardbridge/cardbridge/policy"
)

// Flags is a sub-command's flags: a flag.FlagSet whose --help (or -h)
// prints, on standard output and with exit code 0, the command's usage and
// every flag with its default and, where the command reads them, its
// CARDBRIDGE_* environment variable; a bad flag prints the flag package's
// message and a pointer to --help on standard error (ExitUsage).
type Flags struct {
	*flag.FlagSet
	// Policy, when set before Parse, is the administrator's policies: each
	// that stands for one of the flags overrides the command line and the
	// environment.
	Policy *policy.Set

	cmd     string // "cardbridge agent"
	summary string
	env     bool
	stdout  io.Writer
	origins map[string]api.Setting // by flag name, after Parse
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
	var fromEnv map[string]bool
	if f.env {
		fromEnv, err = flagenv.ParseFrom(f.FlagSet, args)
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
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	f.origins = map[string]api.Setting{}
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		o := api.Setting{Name: fl.Name, Source: "default"}
		switch {
		case fromEnv[fl.Name]:
			o.Source, o.Where = "environment", flagenv.Name(fl.Name)
		case given[fl.Name]:
			o.Source, o.Where = "flag", "--"+fl.Name
		}
		if v, ok := f.Policy.ForFlag(fl.Name); ok {
			if err := fl.Value.Set(v.Text); err != nil {
				errs = append(errs, fmt.Errorf("the %s policy (%s) %q: %w", v.Setting.Name, v.Where, v.Text, err))
			} else {
				o.Source, o.Where = "policy", v.Where
			}
		}
		o.Value = fl.Value.String()
		f.origins[fl.Name] = o
	})
	return errors.Join(errs...)
}

// Origin names where the flag's value came from, for messages about it:
// "--log-level", "CARDBRIDGE_LOG_LEVEL", "the LogLevel policy
// (HKLM\SOFTWARE\Policies\cardbridge\LogLevel)"; the flag itself when it
// holds its default.
func (f *Flags) Origin(name string) string {
	o, ok := f.origins[name]
	switch {
	case !ok || o.Source == "default" || o.Source == "flag":
		return "--" + name
	case o.Source == "policy":
		if v, ok := f.Policy.ForFlag(name); ok {
			return "the " + v.Setting.Name + " policy (" + v.Where + ")"
		}
	}
	return o.Where
}

// Settings lists every flag's value and where it came from, after Parse.
func (f *Flags) Settings() []api.Setting {
	var out []api.Setting
	f.VisitAll(func(fl *flag.Flag) {
		if o, ok := f.origins[fl.Name]; ok {
			o.Value = fl.Value.String()
			out = append(out, o)
		}
	})
	return out
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
