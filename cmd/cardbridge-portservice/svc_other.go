//go:build !windows

package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/portservice/server"
)

// underServiceManager reports false: on Linux and macOS systemd and launchd
// run the service in the foreground (`run`), so nothing more is needed.
func underServiceManager(func(ctx context.Context) error, func(server.SessionEvent), zerolog.Logger) (bool, error) {
	return false, nil
}
