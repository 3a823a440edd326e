package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
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
		{nil, 2, "", "Usage: tool thing\n"},
		{[]string{"help"}, 0, "Usage: tool thing\n", ""},
		{[]string{"-h", "extra"}, 0, "Usage: tool thing\n", ""},
		{[]string{"nope"}, 2, "", "tool: unknown command \"nope\"\n\nUsage: tool thing\n"},
		{[]string{"ok"}, 0, "", ""},
		{[]string{"--ok"}, 0, "", ""},
		{[]string{"fail"}, 1, "", "tool fail: the card is locked\n"},
		{[]string{"labelled"}, 1, "", "tool: the card is locked\n"},
		{[]string{"wrapped"}, 3, "", "tool wrapped: sign: the card is locked\n"},
		{[]string{"quiet"}, 4, "", ""},
		{[]string{"usage"}, 2, "", "tool usage: unexpected argument \"x\"\n"},
		{[]string{"flagusage"}, 2, "", ""},
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
		{"Usage", Usage(plain), 2, "no reader"},
		{"Usage(nil)", Usage(nil), 2, ""},
		{"Usagef", Usagef("--port %d is not a port", 70000), 2, "--port 70000 is not a port"},
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

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		msg     string // Message of the error
		printed string // in what the flag set printed
		json    bool
	}{
		{args: nil},
		{args: []string{"--json"}, json: true},
		{args: []string{"--bogus"}, code: 2, printed: "flag provided but not defined: -bogus"},
		{args: []string{"extra"}, code: 2, msg: `unexpected argument "extra"`},
		{args: []string{"--json", "extra"}, code: 2, msg: `unexpected argument "extra"`, json: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var printed bytes.Buffer
			fs := NewFlagSet("card", &printed)
			asJSON := fs.Bool("json", false, "print JSON")
			err := ParseFlags(fs, tt.args)
			if Code(err) != tt.code || Message(err) != tt.msg || *asJSON != tt.json || !strings.Contains(printed.String(), tt.printed) {
				t.Errorf("ParseFlags = %v (code %d), json %v, printed %q; want code %d, message %q, json %v, printed %q",
					err, Code(err), *asJSON, printed.String(), tt.code, tt.msg, tt.json, tt.printed)
			}
			if tt.printed == "" && printed.Len() > 0 {
				t.Errorf("the flag set printed %q", printed.String())
			}
		})
	}
}
