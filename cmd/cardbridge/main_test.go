package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

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
