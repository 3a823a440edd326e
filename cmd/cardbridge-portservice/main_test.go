package main

import (
	"bytes"
	"context"
	"github.com/cardbridge/cardbridge/internal/cli"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/version"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{args: nil, code: cli.ExitUsage, stderr: "Usage:"},
		{args: []string{"frobnicate"}, code: cli.ExitUsage, stderr: `unknown command "frobnicate"`},
		{args: []string{"run", "--ports", "80,x"}, code: cli.ExitUsage, stderr: `--ports: "x" is not a port`},
		{args: []string{"run", "--range", "5-6"}, code: cli.ExitUsage, stderr: "--range"},
		{args: []string{"run", "--log-level", "loud"}, code: cli.ExitUsage, stderr: "--log-level"},
		{args: []string{"install", "--range", "60000-50000"}, code: cli.ExitUsage, stderr: "--range"},
		{args: []string{"install", "--nope"}, code: cli.ExitUsage, stderr: "flag provided but not defined"},
		{args: []string{"uninstall", "extra"}, code: cli.ExitUsage, stderr: `unexpected argument "extra"`},
		{args: []string{"status", "--json"}, code: cli.ExitUsage, stderr: "flag provided but not defined"},
		{args: []string{"run", "extra"}, code: cli.ExitUsage, stderr: `unexpected argument "extra"`},
		{args: []string{"run", "--range", "5-6"}, code: cli.ExitUsage, stderr: "cardbridge-portservice: --range: "},
		{args: []string{"help"}, code: 0, stdout: "cardbridge-portservice status "},
		{args: []string{"-h"}, code: 0, stdout: "Usage:"},
		{args: []string{"run", "--help"}, code: 0, stdout: "(default: 55000-55999; environment: CARDBRIDGE_RANGE)"},
		{args: []string{"install", "--help"}, code: 0, stdout: "Needs administrator rights."},
		{args: []string{"status", "--help"}, code: 0, stdout: "Usage: cardbridge-portservice status [flags]"},
		{args: []string{"run", "--bogus"}, code: cli.ExitUsage, stderr: "Run 'cardbridge-portservice run --help' for its flags."},
		{args: []string{"version"}, code: 0, stdout: "cardbridge-portservice " + version.Version + " (commit "},
		{args: []string{"--version"}, code: 0, stdout: "cardbridge-portservice " + version.Version},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) || !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out.String(), errOut.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestInstallArgs(t *testing.T) {
	t.Setenv("CARDBRIDGE_LOG_LEVEL", "debug")
	var out, errOut bytes.Buffer
	got, err := installArgs([]string{"--trusted-url", "https://cm.example.nhs.uk", "--range=56000-56999"}, &out, &errOut)
	if err != nil {
		t.Fatalf("installArgs refused good flags: %v %s", err, errOut.String())
	}
	// Only the flags given, by flag or environment, in flag order.
	want := []string{"--log-level", "debug", "--range", "56000-56999", "--trusted-url", "https://cm.example.nhs.uk"}
	if !slices.Equal(got, want) {
		t.Errorf("installArgs = %q, want %q", got, want)
	}
	got, err = installArgs(nil, &out, &errOut)
	if err != nil || !slices.Equal(got, []string{"--log-level", "debug"}) {
		t.Errorf("installArgs(nil) = %q, %v; want only the environment's flag", got, err)
	}
}

func TestInstallFixedPathsOnLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd fixes the paths only on Linux")
	}
	for _, flag := range []string{"--state-dir", "--socket", "--log"} {
		var out, errOut bytes.Buffer
		if got, err := installArgs([]string{flag, "/srv/cardbridge"}, &out, &errOut); cli.Code(err) != cli.ExitUsage || !strings.Contains(cli.Message(err), "cannot be changed under systemd") {
			t.Errorf("installArgs(%s) = %q, %v; want a refusal", flag, got, err)
		}
	}
}
