package main

import (
	"context"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/internal/supervise"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/version"
)

func TestRun(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		stdout  string
		stderr  string
		nothing bool // nothing on stderr
	}{
		{args: []string{"--help"}, code: 0, stdout: "Usage:\n  cardbridge-supervisor [agent flags]", nothing: true},
		{args: []string{"-h"}, code: 0, stdout: "Runs 'cardbridge agent'", nothing: true},
		{args: []string{"--version"}, code: 0, stdout: "cardbridge-supervisor " + version.Version + " (commit ", nothing: true},
		{args: []string{"--supervise"}, code: supervise.ExitUsage, stderr: "--supervise: the supervisor already keeps the agent running"},
		{args: []string{"--portservice", "x", "-supervise=true"}, code: supervise.ExitUsage, stderr: "-supervise=true: the supervisor already keeps"},
		// This test binary has no cardbridge beside it.
		{args: []string{"--listen", "127.0.0.1:1"}, code: 1, stderr: "the cardbridge program is not beside this one"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		code := run(context.Background(), tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) || tt.nothing && stderr.Len() > 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, stdout with %q, stderr with %q", tt.args, code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
		}
	}
}

// TestSmall: the supervisor runs for every logged-in user, so it links
// no network, HTTP, TLS, JSON, logging or cgo code, on every system it is
// built for.
func TestSmall(t *testing.T) {
	testutil.CheckLinks(t, "github.com/cardbridge/cardbridge/internal/supervise",
		"net", "net/http", "crypto/tls", "runtime/cgo", "encoding/json", "github.com/rs/zerolog")
}
