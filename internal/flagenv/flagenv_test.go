package flagenv

import (
	"flag"
	"io"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantLevel string
		wantPorts int
		wantErr   bool
	}{
		{name: "defaults", wantLevel: "info", wantPorts: 1},
		{name: "flag", args: []string{"--log-level", "debug"}, wantLevel: "debug", wantPorts: 1},
		{name: "env", env: map[string]string{"CARDBRIDGE_LOG_LEVEL": "warn"}, wantLevel: "warn", wantPorts: 1},
		{name: "flag beats env", args: []string{"--log-level=error"}, env: map[string]string{"CARDBRIDGE_LOG_LEVEL": "warn"}, wantLevel: "error", wantPorts: 1},
		{name: "env int", env: map[string]string{"CARDBRIDGE_MAX_PORTS": "7"}, wantLevel: "info", wantPorts: 7},
		{name: "bad env value", env: map[string]string{"CARDBRIDGE_MAX_PORTS": "many"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			level := fs.String("log-level", "info", "")
			ports := fs.Int("max-ports", 1, "")
			err := Parse(fs, tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse: err %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if *level != tt.wantLevel || *ports != tt.wantPorts {
				t.Errorf("got level %q ports %d, want %q %d", *level, *ports, tt.wantLevel, tt.wantPorts)
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := Name("trusted-url"); got != "CARDBRIDGE_TRUSTED_URL" {
		t.Errorf("Name(trusted-url) = %q", got)
	}
}
