// Package cli runs cardbridge's command lines (cardbridge and
// cardbridge-portservice): a table of sub-commands, each a function of a
// context and its arguments that returns an error, and the one place where
// those errors become messages and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Command is one sub-command.
type Command struct {
	// Names are the command's name and its aliases ("version", "--version").
	Names []string
	// Label starts the command's error messages: "PROGRAM NAME" when empty.
	Label string
	// Run carries out the command with the arguments after its name.
	Run func(ctx context.Context, args []string) error
}

// Program is a command line made of sub-commands.
type Program struct {
	Name  string // "cardbridge"
	Usage string // printed by help, and on a bad command line
	// Help are the names of the command that prints Usage on stdout.
	Help     []string
	Commands []Command
}

// Run carries out args (without the program's name) and returns the exit
// code. No command, or an unknown one, prints the usage on stderr and exits
// with ExitUsage. A command's error is printed on stderr as "LABEL: error",
// and its exit code is Code's.
func (p Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, p.Usage)
		return ExitUsage
	}
	if slices.Contains(p.Help, args[0]) {
		fmt.Fprint(stdout, p.Usage)
		return 0
	}
	i := slices.IndexFunc(p.Commands, func(c Command) bool { return slices.Contains(c.Names, args[0]) })
	if i < 0 {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", p.Name, args[0], p.Usage)
		return ExitUsage
	}
	c := p.Commands[i]
	err := c.Run(ctx, args[1:])
	if msg := Message(err); msg != "" {
		label := c.Label
		if label == "" {
			label = p.Name + " " + c.Names[0]
		}
		fmt.Fprintf(stderr, "%s: %s\n", label, msg)
	}
	return Code(err)
}

// ExitUsage is the exit code of a bad command line: 64, EX_USAGE of BSD's
// sysexits.h. Not 2, the flag package's: a Go program ends with 2 when it
// panics or meets a fatal error, and the agent's supervisor and the systemd
// units must tell a bad command line, which a restart cannot mend, from a
// crash, which it can.
const ExitUsage = 64

// ExitError ends a command with an exit code other than 1.
type ExitError struct {
	Code int
	// Err is printed as any error is; nil when the command has said all
	// there is to say (a report, a JSON body, the flag package's message).
	Err error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit ends a command with code and no message; Exit(0) is nil.
func Exit(code int) error {
	if code == 0 {
		return nil
	}
	return &ExitError{Code: code}
}

// Usage marks err as a bad command line (ExitUsage); nil means the message
// has been printed already (the flag package prints its own).
func Usage(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Usagef is Usage with a message formatted as fmt.Errorf does.
func Usagef(format string, a ...any) error { return Usage(fmt.Errorf(format, a...)) }

// Code is the exit code err ends a command with: 0 for nil, an ExitError's
// code, 1 for any other error.
func Code(err error) int {
	if err == nil {
		return 0
	}
	if e := (*ExitError)(nil); errors.As(err, &e) {
		return e.Code
	}
	return 1
}

// Message is what is printed for err: "" for nil and for an ExitError
// without an error of its own.
func Message(err error) string {
	if e, ok := err.(*ExitError); err == nil || ok && e.Err == nil {
		return ""
	}
	return err.Error()
}
