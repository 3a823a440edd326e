package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/policy"
)

func TestProgramRun(t *testing.T) {
	fails := errors.New("the card is locked")
	p := Program{
		Name:  "tool",
		Usage: "Usage: tool thing\n",
		Help:  []string{"help", "-h"},
		Commands: []Command{
			{Names: []string{"ok", "--ok"}, Run: func(context.Context, []string) error { return nil }},
			{Names: []string{"fail"}, Run: func(context.Context, []string) error { return fails }},
			{Names: []string{"labelled"}, Label: "tool", Run: func(context.Context, []string) error { return fails }},
			{Names: []string{"wrapped"}, Run: func(context.Context, []string) error { return fmt.Errorf("sign: %w", &ExitError{Code: 3, Err: fails}) }},
			{Names: []string{"quiet"}, Run: func(context.Context, []string) error { return Exit(4) }},
			{Names: []string{"usage"}, Run: func(context.Context, []string) error { return Usagef("unexpected argument %q", "x") }},
			{Names: []string{"flagusage"}, Run: func(context.Context, []string) error { return Usage(nil) }},
			{Names: []string{"args"}, Run: func(_ context.Context, args []string) error {
				if strings.Join(args, " ") != "a --b" {
					return fmt.Errorf("args %q", args)
				}
				return nil
			}},
		},
	}
	tests := []struct {
		args        []string
		code        int
		out, errOut string // exactly
	}{
		{nil, 64, "", "Usage: tool thing\n"},
		{[]string{"help"}, 0, "Usage: tool thing\n", ""},
		{[]string{"-h", "extra"}, 0, "Usage: tool thing\n", ""},
		{[]string{"nope"}, 64, "", "tool: unknown command \"nope\"\n\nUsage: tool thing\n"},
		{[]string{"ok"}, 0, "", ""},
		{[]string{"--ok"}, 0, "", ""},
		{[]string{"fail"}, 1, "", "tool fail: the card is locked\n"},
		{[]string{"labelled"}, 1, "", "tool: the card is locked\n"},
		{[]string{"wrapped"}, 3, "", "tool wrapped: sign: the card is locked\n"},
		{[]string{"quiet"}, 4, "", ""},
		{[]string{"usage"}, 64, "", "tool usage: unexpected argument \"x\"\n"},
		{[]string{"flagusage"}, 64, "", ""},
		{[]string{"args", "a", "--b"}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := p.Run(context.Background(), tt.args, &out, &errOut)
			if code != tt.code || out.String() != tt.out || errOut.String() != tt.errOut {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
					code, out.String(), errOut.String(), tt.code, tt.out, tt.errOut)
			}
		})
	}
}

func TestCodeAndMessage(t *testing.T) {
	plain := errors.New("no reader")
	tests := []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"nil", nil, 0, ""},
		{"plain", plain, 1, "no reader"},
		{"Exit(0) is success", Exit(0), 0, ""},
		{"Exit", Exit(3), 3, ""},
		{"Exit wrapped keeps its code and the wrapper's words", fmt.Errorf("agent: %w", Exit(3)), 3, "agent: exit code 3"},
		{"Usage", Usage(plain), 64, "no reader"},
		{"Usage(nil)", Usage(nil), 64, ""},
		{"Usagef", Usagef("--port %d is not a port", 70000), 64, "--port 70000 is not a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(tt.err); got != tt.code {
				t.Errorf("Code = %d, want %d", got, tt.code)
			}
			if got := Message(tt.err); got != tt.msg {
				t.Errorf("Message = %q, want %q", got, tt.msg)
			}
		})
	}
	if !errors.Is(Usage(plain), plain) {
		t.Error("Usage(err) does not wrap err")
	}
}

func TestFlagsParse(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		printed string // in what the flag set printed on stderr
		json    bool
	}{
		{args: nil},
		{args: []string{"--json"}, json: true},
		{args: []string{"--bogus"}, code: ExitUsage, printed: "flag provided but not defined: -bogus\nRun 'cardbridge card --help' for its flags."},
		{args: []string{"extra"}, code: ExitUsage, printed: `unexpected argument "extra"`},
		{args: []string{"--json", "extra"}, code: ExitUsage, printed: `unexpected argument "extra"`, json: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, printed bytes.Buffer
			fs := NewFlags("cardbridge card", "Shows the cards.", false, &out, &printed)
			asJSON := fs.Bool("json", false, "print JSON")
			err := fs.Parse(tt.args)
			if Code(err) != tt.code || Message(err) != "" || *asJSON != tt.json || !strings.Contains(printed.String(), tt.printed) {
				t.Errorf("Parse = %v (code %d), json %v, printed %q; want code %d, json %v, printed %q",
					err, Code(err), *asJSON, printed.String(), tt.code, tt.json, tt.printed)
			}
			if tt.printed == "" && printed.Len() > 0 {
				t.Errorf("the flag set printed %q", printed.String())
			}
			if out.Len() > 0 {
				t.Errorf("printed on stdout: %q", out.String())
			}
		})
	}
}

// TestFlagsHelp: --help and -h print the usage and every flag, with its
// default and its environment variable, on stdout, and end with exit 0.
func TestFlagsHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		var out, errOut bytes.Buffer
		fs := NewFlags("cardbridge agent", "Runs the agent.", true, &out, &errOut)
		fs.String("listen", "", "standalone: serve on this `ADDRESS`")
		fs.String("log-level", "info", "debug, info, warn or error")
		fs.Bool("supervise", false, "keep the agent running")
		err := fs.Parse([]string{arg})
		if err == nil || Code(err) != 0 || Message(err) != "" {
			t.Errorf("%s: Parse = %v (code %d); want the command ended with exit code 0", arg, err, Code(err))
		}
		if errOut.Len() > 0 {
			t.Errorf("%s: printed on stderr: %q", arg, errOut.String())
		}
		for _, want := range []string{
			"Usage: cardbridge agent [flags]\n\nRuns the agent.\n",
			"  --listen ADDRESS\n        standalone: serve on this ADDRESS\n        (environment: CARDBRIDGE_LISTEN)\n",
			"  --log-level string\n        debug, info, warn or error\n        (default: info; environment: CARDBRIDGE_LOG_LEVEL)\n",
			"  --supervise\n        keep the agent running\n        (environment: CARDBRIDGE_SUPERVISE)\n",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: help lacks %q:\n%s", arg, want, out.String())
			}
		}
	}
	var out bytes.Buffer
	fs := NewFlags("cardbridge card", "Shows the cards.", false, &out, &out)
	fs.Bool("json", false, "print JSON")
	_ = fs.Parse([]string{"--help"})
	if strings.Contains(out.String(), "environment:") {
		t.Errorf("a command that reads no environment variables names some:\n%s", out.String())
	}
}

// A policy beats the command line and the environment, and every setting
// says where its value came from.
func TestFlagsPolicy(t *testing.T) {
	t.Setenv("CARDBRIDGE_PORTS", "43487")
	var stdout, stderr bytes.Buffer
	fs := NewFlags("tool run", "Runs.", true, &stdout, &stderr)
	level := fs.String("log-level", "info", "level")
	ports := fs.String("ports", "1,2", "ports")
	listen := fs.String("listen", "", "address")
	check := fs.Duration("upgrade-check", 10*time.Second, "how often")
	fs.String("range", "55000-55999", "range")
	fs.Policy = policy.Of("/etc/cardbridge/policy.json", policy.Values{"LogLevel": "warn", "UpgradeCheck": float64(0)})
	if err := fs.Parse([]string{"--log-level", "debug", "--listen", "43491"}); err != nil {
		t.Fatal(err)
	}
	if *level != "warn" || *check != 0 || *ports != "43487" || *listen != "43491" {
		t.Errorf("level %q check %v ports %q listen %q", *level, *check, *ports, *listen)
	}
	want := map[string]api.Setting{
		"log-level":     {Name: "log-level", Value: "warn", Source: "policy", Where: "/etc/cardbridge/policy.json"},
		"upgrade-check": {Name: "upgrade-check", Value: "0s", Source: "policy", Where: "/etc/cardbridge/policy.json"},
		"ports":         {Name: "ports", Value: "43487", Source: "environment", Where: "CARDBRIDGE_PORTS"},
		"listen":        {Name: "listen", Value: "43491", Source: "flag", Where: "--listen"},
		"range":         {Name: "range", Value: "55000-55999", Source: "default"},
	}
	got := map[string]api.Setting{}
	for _, s := range fs.Settings() {
		got[s.Name] = s
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings\n got %+v\nwant %+v", got, want)
	}
	for flag, want := range map[string]string{
		"log-level": "the LogLevel policy (/etc/cardbridge/policy.json)",
		"ports":     "CARDBRIDGE_PORTS",
		"listen":    "--listen",
		"range":     "--range",
	} {
		if got := fs.Origin(flag); got != want {
			t.Errorf("Origin(%s) = %q, want %q", flag, got, want)
		}
	}

	// A policy value the flag refuses stops the program, naming the policy.
	fs = NewFlags("tool run", "Runs.", true, &stdout, &stderr)
	fs.Duration("upgrade-check", time.Second, "how often")
	fs.Policy = policy.Of(`HKLM\SOFTWARE\Policies\cardbridge`, policy.Values{"UpgradeCheck": "-5"})
	if err := fs.Parse(nil); err != nil {
		t.Errorf("a policy ignored as wrong stopped the program: %v", err)
	}
	if len(fs.Policy.Problems) != 1 || fs.Settings()[0].Source != "default" {
		t.Errorf("problems %q, settings %+v", fs.Policy.Problems, fs.Settings())
	}
}
