package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/version"
)

func TestRunCommandLine(t *testing.T) {
	cases := []struct {
		args        []string
		code        int
		out, errOut string // substrings
	}{
		{nil, 2, "", "Usage:"},
		{[]string{"help"}, 0, "cardbridge card", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"version"}, 0, "cardbridge " + version.Version + " (commit ", ""},
		{[]string{"card", "--bogus"}, 2, "", "flag provided but not defined"},
		{[]string{"card", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"help"}, 0, "cardbridge doctor [--json]", ""},
		{[]string{"doctor", "--bogus"}, 2, "", "flag provided but not defined"},
		{[]string{"doctor", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"doctor", "--ports", "43487,x"}, 2, "", `--ports: "x" is not a port`},
		{[]string{"doctor", "--port", "70000"}, 2, "", "cardbridge doctor: --port 70000 is not a port"},
		{[]string{"-h"}, 0, "cardbridge agent [--listen", ""},
		{[]string{"--version"}, 0, "cardbridge " + version.Version, ""},
		{[]string{"version", "--bogus"}, 2, "", "flag provided but not defined"},
		{[]string{"agent", "--bogus"}, 2, "", "flag provided but not defined"},
		{[]string{"agent", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"agent", "--upgrade-check", "soon"}, 2, "", `invalid value "soon" for flag -upgrade-check`},
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
