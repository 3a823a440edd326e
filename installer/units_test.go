package installer

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdServiceUnit(t *testing.T) {
	unit := SystemdServiceUnit("/opt/card bridge/cardbridge-portservice", []string{"--trusted-url", "https://cm.example.nhs.uk/a b", "--range", "56000-56999"})
	for _, want := range []string{
		`ExecStart="/opt/card bridge/cardbridge-portservice" run --trusted-url "https://cm.example.nhs.uk/a b" --range 56000-56999` + "\n",
		"DynamicUser=yes\n", "StateDirectory=cardbridge\n", "RuntimeDirectory=cardbridge\n",
		"CapabilityBoundingSet=\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "ProtectHome=yes\n",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n",
		"Restart=always\n", "WantedBy=multi-user.target\n",
		"FileDescriptorStoreMax=32\n", "NotifyAccess=main\n",
		"EnvironmentFile=-/etc/default/cardbridge-portservice\n",
		"RestartPreventExitStatus=64\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("service unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "{{") {
		t.Error("service unit holds a template action; kardianos would expand it")
	}
}

func TestSystemdAgentUnit(t *testing.T) {
	unit := SystemdAgentUnit("/usr/bin/cardbridge")
	for _, want := range []string{
		"ExecStart=/usr/bin/cardbridge agent --portservice /run/cardbridge/portservice.sock\n",
		"Environment=GOMAXPROCS=1\n", "Restart=always\n", "RestartPreventExitStatus=64 3\n", "WantedBy=default.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("agent unit lacks %q:\n%s", want, unit)
		}
	}
}

func TestSystemdCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/usr/bin/x", "run"}, "/usr/bin/x run"},
		{[]string{"/a b/x", ""}, `"/a b/x" ""`},
		{[]string{"x", `say "hi"`}, `x "say \"hi\""`},
		{[]string{"x", "100%", "$HOME"}, `x "100%%" "$$HOME"`},
		{[]string{"x", `C:\dir`}, `x "C:\\dir"`},
	}
	for _, tt := range tests {
		if got := systemdCommand(tt.args); got != tt.want {
			t.Errorf("systemdCommand(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

// TestUnitsVerify has systemd itself check the rendered units.
func TestUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin dir", "cardbridge-portservice")
	agent := filepath.Join(dir, "bin dir", "cardbridge")
	for _, p := range []string{exe, agent} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svc := filepath.Join(dir, ServiceName+".service")
	user := filepath.Join(dir, AgentName+".service")
	if err := os.WriteFile(svc, []byte(SystemdServiceUnit(exe, []string{"--range", "56000-56999"})), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(user, []byte(SystemdAgentUnit(agent)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify", "--man=no", svc}, {"verify", "--man=no", "--user", user}} {
		cmd := exec.Command("systemd-analyze", args...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir)
		out, err := cmd.CombinedOutput()
		// Without a running systemd, verify still parses every line and
		// reports unknown or malformed settings; only the lack of a
		// manager may be reported besides.
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" || strings.Contains(line, "Failed to connect to bus") || strings.Contains(line, "System has not been booted with systemd") {
				continue
			}
			t.Errorf("systemd-analyze %s: %s (%v)", strings.Join(args, " "), line, err)
		}
	}
}

func TestXDGAutostartEntry(t *testing.T) {
	e := XDGAutostartEntry("/opt/card bridge/cardbridge")
	for _, want := range []string{
		"[Desktop Entry]\n", "Type=Application\n",
		`Exec="/opt/card bridge/cardbridge-supervisor" --portservice /run/cardbridge/portservice.sock` + "\n",
		"X-systemd-skip=true\n", "NoDisplay=true\n",
	} {
		if !strings.Contains(e, want) {
			t.Errorf("autostart entry lacks %q:\n%s", want, e)
		}
	}
	if got := desktopExec([]string{"/x", "100%", `a"b`}); got != `/x "100%%" "a\\"b"` {
		t.Errorf("desktopExec = %s", got)
	}
}

// plistDoc is the part of a launchd plist the tests read.
type plistDoc struct {
	Dict struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"dict"`
}

func TestLaunchdPlists(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"daemon", LaunchDaemonPlist("/usr/local/bin/cardbridge-portservice", []string{"--trusted-url", "https://a.example/?x=1&y=<2>"}),
			[]string{"<string>" + LaunchdServiceLabel + "</string>", "<string>run</string>", "<string>https://a.example/?x=1&amp;y=&lt;2&gt;</string>", "<key>KeepAlive</key>\n\t<true/>"}},
		{"agent", LaunchAgentPlist("/usr/local/bin/cardbridge"),
			[]string{"<string>" + LaunchdAgentLabel + "</string>", "<string>agent</string>", "<key>SuccessfulExit</key>", "<string>Aqua</string>",
				"<key>EnvironmentVariables</key>\n\t<dict>\n\t\t<key>GOMAXPROCS</key>\n\t\t<string>1</string>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc plistDoc
			if err := xml.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatalf("not XML: %v\n%s", err, tt.doc)
			}
			for _, want := range tt.want {
				if !strings.Contains(tt.doc, want) {
					t.Errorf("plist lacks %q:\n%s", want, tt.doc)
				}
			}
		})
	}
}

func TestLinuxFiles(t *testing.T) {
	files := LinuxFiles("/usr/bin", "/lib/systemd/system", "/usr/lib/systemd/user")
	want := map[string]string{
		"/lib/systemd/system/cardbridge-portservice.service": "ExecStart=/usr/bin/cardbridge-portservice run\n",
		"/usr/lib/systemd/user/cardbridge-agent.service":     "ExecStart=/usr/bin/cardbridge agent --portservice /run/cardbridge/portservice.sock\n",
		"/etc/xdg/autostart/cardbridge-agent.desktop":        "Exec=/usr/bin/cardbridge-supervisor --portservice /run/cardbridge/portservice.sock\n",
		"/etc/default/cardbridge-portservice":                "#CARDBRIDGE_TRUSTED_URL=",
		"/etc/sysctl.d/60-cardbridge.conf":                   "\nnet.ipv4.ip_local_reserved_ports = 55000-55999\n",
	}
	if len(files) != len(want) {
		t.Errorf("%d files, want %d", len(files), len(want))
	}
	for _, f := range files {
		if !strings.Contains(f.Data, want[f.Path]) || want[f.Path] == "" {
			t.Errorf("%s: want it to hold %q", f.Path, want[f.Path])
		}
		if f.Mode != 0o644 {
			t.Errorf("%s: mode %o", f.Path, f.Mode)
		}
	}
}

func TestSysctlFile(t *testing.T) {
	cases := []struct {
		lo, hi int
		want   string
	}{
		{55000, 55999, "\nnet.ipv4.ip_local_reserved_ports = 55000-55999\n"},
		{56000, 56099, "\nnet.ipv4.ip_local_reserved_ports = 56000-56099\n"},
	}
	for _, c := range cases {
		got := SysctlFile(c.lo, c.hi)
		if !strings.Contains(got, c.want) {
			t.Errorf("SysctlFile(%d, %d) = %q, want it to hold %q", c.lo, c.hi, got, c.want)
		}
		// sysctl reads "key = value" lines and # comments; nothing else.
		for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
			if !strings.HasPrefix(line, "#") && !strings.Contains(line, " = ") {
				t.Errorf("SysctlFile(%d, %d): line %q is neither a comment nor a setting", c.lo, c.hi, line)
			}
		}
	}
}
