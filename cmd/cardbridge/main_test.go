package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/agentd"
	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/internal/cli"
	"github.com/cardbridge/cardbridge/version"
)

func TestRunCommandLine(t *testing.T) {
	cases := []struct {
		args        []string
		code        int
		out, errOut string // substrings
	}{
		{nil, cli.ExitUsage, "", "Usage:"},
		{[]string{"help"}, 0, "cardbridge card", ""},
		{[]string{"frobnicate"}, cli.ExitUsage, "", `unknown command "frobnicate"`},
		{[]string{"version"}, 0, "cardbridge " + version.Version + " (commit ", ""},
		{[]string{"card", "--bogus"}, cli.ExitUsage, "", "flag provided but not defined"},
		{[]string{"card", "extra"}, cli.ExitUsage, "", `unexpected argument "extra"`},
		{[]string{"help"}, 0, "cardbridge doctor [--json]", ""},
		{[]string{"doctor", "--bogus"}, cli.ExitUsage, "", "flag provided but not defined"},
		{[]string{"doctor", "extra"}, cli.ExitUsage, "", `unexpected argument "extra"`},
		{[]string{"doctor", "--ports", "43487,x"}, cli.ExitUsage, "", `--ports: "x" is not a port`},
		{[]string{"doctor", "--port", "70000"}, cli.ExitUsage, "", "cardbridge doctor: --port 70000 is not a port"},
		{[]string{"-h"}, 0, "Run 'cardbridge COMMAND --help' for a command's flags", ""},
		{[]string{"--version"}, 0, "cardbridge " + version.Version, ""},
		{[]string{"version", "--bogus"}, cli.ExitUsage, "", "flag provided but not defined"},
		{[]string{"agent", "--bogus"}, cli.ExitUsage, "", "Run 'cardbridge agent --help' for its flags."},
		{[]string{"agent", "--listen", "70000"}, cli.ExitUsage, "", `cardbridge agent: --listen "70000" is neither a port nor a loopback address such as 127.0.0.1:43485`},
		{[]string{"agent", "--log-level", "verbose"}, cli.ExitUsage, "", `cardbridge agent: --log-level "verbose" is not one of debug, info, warn or error`},
		{[]string{"agent", "--pinentry", "/nonexistent/pinentry"}, cli.ExitUsage, "", "cardbridge agent: --pinentry /nonexistent/pinentry: no such program"},
		{[]string{"agent", "--help"}, 0, "(default: info; environment: CARDBRIDGE_LOG_LEVEL)", ""},
		{[]string{"agent", "-h"}, 0, "  --pinentry PROGRAM\n", ""},
		{[]string{"card", "--help"}, 0, "Usage: cardbridge card [flags]", ""},
		{[]string{"doctor", "--help"}, 0, "(default: 43487,44213,45031,46478,48853)", ""},
		{[]string{"version", "--help"}, 0, "Usage: cardbridge version [flags]", ""},
		{[]string{"agent", "extra"}, cli.ExitUsage, "", `unexpected argument "extra"`},
		{[]string{"agent", "--upgrade-check", "soon"}, cli.ExitUsage, "", `invalid value "soon" for flag -upgrade-check`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), c.args, &out, &errOut)
			if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errOut) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out.String(), errOut.String(), c.code, c.out, c.errOut)
			}
		})
	}
}

// An agent that cannot start says why, naming the command, and exits 1.
func TestAgentFailsToStart(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "DomainList.txt")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"agent", "--listen", "127.0.0.1:0", "--upgrade-check", "0",
		"--log", filepath.Join(dir, "agent.log"), "--domains", missing}, &out, &errOut)
	if code != 1 || out.Len() > 0 || !strings.HasPrefix(errOut.String(), "cardbridge agent: load --domains: read "+missing+": ") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and stderr saying the --domains file cannot be read", code, out.String(), errOut.String())
	}
}

// doctor --json on a machine without a port service on the given port: a
// failing report in the documented shape, and exit 1.
func TestDoctorJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"doctor", "--json", "--ports", strconv.Itoa(port), "--port", "0", "--timeout", "5s"}, &out, &errOut)
	var rep doctor.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("doctor --json printed %q (%v); stderr %q", out.String(), err, errOut.String())
	}
	if code != 1 || rep.OK || rep.Summary.Fail == 0 || rep.Version != version.Version || len(rep.Checks) < 10 {
		t.Errorf("exit %d, report %+v", code, rep)
	}
	for _, c := range rep.Checks {
		if c.ID == "portservice" && (c.Status != doctor.Fail || !strings.Contains(c.Detail, strconv.Itoa(port))) {
			t.Errorf("port service check: %+v", c)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version", "--json"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	var info version.Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Product != "cardbridge" || info.Version != version.Version || info.OS == "" {
		t.Errorf("version --json = %s (%v)", out.String(), err)
	}
}

// TestAgentRefusesANonExecutablePinentry: a --pinentry file without an
// execute bit is refused at start, before anything runs.
func TestAgentRefusesANonExecutablePinentry(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no execute bit")
	}
	p := filepath.Join(t.TempDir(), "pinentry")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"agent", "--pinentry", p}, &out, &errOut)
	if want := "cardbridge agent: --pinentry " + p + " is not an executable program\n"; code != cli.ExitUsage || errOut.String() != want {
		t.Errorf("exit %d, stderr %q; want exit %d, %q", code, errOut.String(), cli.ExitUsage, want)
	}
}

// TestListenPort: --listen PORT is localhost:PORT; an address stays as given.
func TestListenPort(t *testing.T) {
	for in, want := range map[string]string{
		"43491":           "localhost:43491",
		"127.0.0.1:43485": "127.0.0.1:43485",
		"[::1]:43485":     "[::1]:43485",
		"localhost:43485": "localhost:43485",
		"":                "",
	} {
		opt := agentd.Options{Listen: in, LogLevel: "info"}
		if err := checkAgentFlags(&opt, func(f string) string { return "--" + f }); err != nil || opt.Listen != want {
			t.Errorf("--listen %q: %q, %v; want %q", in, opt.Listen, err, want)
		}
	}
}
