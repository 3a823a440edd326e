package main

import (
	"context"
	"fmt"

	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/version"
)

// version prints the build. Arguments after the flags are ignored.
func (c commands) version(_ context.Context, args []string) error {
	fs := cli.NewFlagSet("version", c.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return cli.Usage(nil)
	}
	info := version.Get()
	if *asJSON {
		if err := writeJSON(c.stdout, info); err != nil {
			return cli.Exit(1)
		}
		return nil
	}
	fmt.Fprintln(c.stdout, info)
	return nil
}
