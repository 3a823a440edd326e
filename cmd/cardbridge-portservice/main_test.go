package main

import (
	"bytes"
	"context"
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
		{args: nil, code: 2, stderr: "Usage:"},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{args: []string{"run", "--ports", "80,x"}, code: 2, stderr: `--ports: "x" is not a port`},
		{args: []string{"run", "--range", "5-6"}, code: 2, stderr: "--range"},
		{args: []string{"run", "--log-level", "loud"}, code: 2, stderr: "--log-level"},
		{args: []string{"install", "--range", "60000-50000"}, code: 2, stderr: "--range"},
		{args: []string{"install", "--nope"}, code: 2, stderr: "flag provided but not defined"},
		{args: []string{"uninstall", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{args: []string{"status", "--json"}, code: 2, stderr: "flag provided but not defined"},
		{args: []string{"run", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{args: []string{"run", "--range", "5-6"}, code: 2, stderr: "cardbridge-portservice: --range: "},
		{args: []string{"help"}, code: 0, stdout: "cardbridge-portservice status "},
		{args: []string{"-h"}, code: 0, stdout: "Usage:"},
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
	var errOut bytes.Buffer
	got, ok := installArgs([]string{"--trusted-url", "https://cm.example.nhs.uk", "--range=56000-56999"}, &errOut)
	if !ok {
		t.Fatalf("installArgs refused good flags: %s", errOut.String())
	}
	// Only the flags given, by flag or environment, in flag order.
	want := []string{"--log-level", "debug", "--range", "56000-56999", "--trusted-url", "https://cm.example.nhs.uk"}
	if !slices.Equal(got, want) {
		t.Errorf("installArgs = %q, want %q", got, want)
	}
	got, ok = installArgs(nil, &errOut)
	if !ok || !slices.Equal(got, []string{"--log-level", "debug"}) {
		t.Errorf("installArgs(nil) = %q, %v; want only the environment's flag", got, ok)
	}
}

func TestInstallFixedPathsOnLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd fixes the paths only on Linux")
	}
	for _, flag := range []string{"--state-dir", "--socket", "--log"} {
		var errOut bytes.Buffer
		if got, ok := installArgs([]string{flag, "/srv/cardbridge"}, &errOut); ok || !strings.Contains(errOut.String(), "cannot be changed under systemd") {
			t.Errorf("installArgs(%s) = %q, %v, %q; want a refusal", flag, got, ok, errOut.String())
		}
	}
}
