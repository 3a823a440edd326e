package main

import (
	"context"
	"fmt"

	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/version"
)

// version prints the build.
func (c commands) version(_ context.Context, args []string) error {
	fs := cli.NewFlags("cardbridge version", "Shows the version, commit and build of this cardbridge.", false, c.stdout, c.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
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
