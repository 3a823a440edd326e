// Package flagenv parses cardbridge's command-line flags with environment
// variables as fallbacks, so that a flag such as --log-level can also be set
// as CARDBRIDGE_LOG_LEVEL (by a service manager, a login script or a
// deployment tool).
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// Prefix starts every environment variable that sets a flag.
const Prefix = "CARDBRIDGE_"

// Name is the environment variable that sets the flag called flagName:
// CARDBRIDGE_ and the name in upper case with "-" as "_".
func Name(flagName string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args; every flag not given on the command line takes its
// value from its environment variable when that is set. Arguments other
// than flags are refused.
func Parse(fs *flag.FlagSet, args []string) error {
	_, err := ParseFrom(fs, args)
	return err
}

// ParseFrom is Parse, also returning the names of the flags whose value
// came from the environment.
func ParseFrom(fs *flag.FlagSet, args []string) (fromEnv map[string]bool, err error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return nil, errors.New("unexpected argument")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fromEnv = map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		env := Name(f.Name)
		if v, ok := os.LookupEnv(env); ok && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				fmt.Fprintf(fs.Output(), "%s: %v\n", env, e)
				err = fmt.Errorf("%s: %w", env, e)
				return
			}
			fromEnv[f.Name] = true
		}
	})
	return fromEnv, err
}
