package installer

import (
	"fmt"
	"html"
	"strings"

	"github.com/cardbridge/cardbridge/portservice"
)

// File is one file an install writes: where, what, and with which mode.
type File struct {
	Path string
	Data string
	Mode uint32
}

// SystemdServiceUnit is the port service's systemd unit, hardened: it runs
// as a dynamic unprivileged user with no capabilities, sees the file system
// read-only except its state and runtime directories, and may only open
// Unix, IP and netlink sockets (sock_diag tells it who owns a connection).
// exe is the port service program; args follow `run`.
func SystemdServiceUnit(exe string, args []string) string {
	cmd := systemdCommand(append([]string{exe, "run"}, args...))
	return `# cardbridge port service: gives every signed-in user's cardbridge agent a
# localhost port of its own. Settings: /etc/default/cardbridge-portservice.
[Unit]
Description=` + ServiceDisplayName + `
Documentation=https://github.com/cardbridge/cardbridge
After=network.target
ConditionFileIsExecutable=` + strings.ReplaceAll(exe, "%", "%%") + `
# Every signed-in user depends on it: however often it was started or
# restarted lately (an administrator's restarts count too), a crash is
# followed by a start 2 s later, never by systemd giving up on it.
StartLimitIntervalSec=0

[Service]
Type=simple
EnvironmentFile=-/etc/default/cardbridge-portservice
ExecStart=` + cmd + `
Restart=always
RestartSec=2
# Exit code 64 is a configuration error (a bad flag): retrying cannot help.
# (A crash, a panic's exit code 2 included, is restarted.)
RestartPreventExitStatus=64
# The service hands systemd its well-known ports' listening sockets and gets
# them back when it starts again: a page that asks while it restarts (an
# upgrade, a crash) waits for the new process instead of being refused.
# A stop closes them.
FileDescriptorStoreMax=32
NotifyAccess=main
DynamicUser=yes
StateDirectory=cardbridge
StateDirectoryMode=0750
RuntimeDirectory=cardbridge
RuntimeDirectoryMode=0755
UMask=0022
LimitNOFILE=65536
CapabilityBoundingSet=
AmbientCapabilities=
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=default
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`
}

// SystemdAgentUnit is the agent's systemd user unit, started with every
// user's session (default.target) and restarted if it dies. Exit code 64
// is a bad flag and 3 means another agent already runs for the user: no
// restart then. The agent runs on one processor (GOMAXPROCS=1), as under
// cardbridge-supervisor: see childEnv in internal/supervise.
func SystemdAgentUnit(exe string) string {
	return `# cardbridge agent: lets trusted web pages see your smartcard and sign with it.
[Unit]
Description=cardbridge smartcard agent
Documentation=https://github.com/cardbridge/cardbridge
After=graphical-session-pre.target

[Service]
Type=simple
Environment=GOMAXPROCS=1
ExecStart=` + systemdCommand(append([]string{exe}, agentArgs(linuxSocket)...)) + `
Restart=always
RestartSec=2
RestartPreventExitStatus=64 3
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes

[Install]
WantedBy=default.target
`
}

// XDGAutostartEntry starts the agent, through cardbridge-supervisor, on
// desktops whose sessions are not run by a systemd user manager. systemd's
// autostart generator skips it (X-systemd-skip), since the user unit above
// does the job there.
func XDGAutostartEntry(exe string) string {
	return `[Desktop Entry]
Type=Application
Name=cardbridge agent
Comment=Lets trusted web pages see your smartcard and sign with it
Exec=` + desktopExec(supervisedCommand(unixSupervisor(exe), linuxSocket)) + `
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
X-systemd-skip=true
`
}

// desktopExec quotes a command for a desktop entry's Exec key.
func desktopExec(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`%") {
			a = `"` + strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", `$`, `\\$`, `%`, `%%`).Replace(a) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// LaunchDaemonPlist runs the port service at boot on macOS and restarts it
// whenever it stops.
func LaunchDaemonPlist(exe string, args []string) string {
	return plist(LaunchdServiceLabel, append([]string{exe, "run"}, args...), `	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>ThrottleInterval</key>
	<integer>5</integer>
`)
}

// LaunchAgentPlist starts the agent in every user's macOS login session and
// restarts it unless it exited cleanly.
func LaunchAgentPlist(exe string) string {
	return plist(LaunchdAgentLabel, append([]string{exe}, agentArgs(darwinSocket)...), `	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>EnvironmentVariables</key>
	<dict>
		<key>GOMAXPROCS</key>
		<string>1</string>
	</dict>
`)
}

// plist renders a launchd job: its label, its command and further keys.
func plist(label string, command []string, keys string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + html.EscapeString(label) + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range command {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", html.EscapeString(a))
	}
	b.WriteString("\t</array>\n")
	b.WriteString(keys)
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

// DefaultsFile is /etc/default/cardbridge-portservice: the port service's
// settings as environment variables, each one a `run` flag.
const DefaultsFile = `# Settings of the cardbridge port service, read when it starts
# (systemctl restart cardbridge-portservice). Each is a flag of
# "cardbridge-portservice run"; remove the leading # to set one.
#
# Well-known ports pages ask first; the first free one is used.
#CARDBRIDGE_PORTS=43487,44213,45031,46478,48853
# Ports given to users' agents, one each.
#CARDBRIDGE_RANGE=55000-55999
# Where the DomainList is refreshed from every few hours.
#CARDBRIDGE_TRUSTED_URL=https://example.nhs.uk/cardbridge
# debug, info, warn or error
#CARDBRIDGE_LOG_LEVEL=info
`

// SysctlPath is where the Debian package puts SysctlFile.
const SysctlPath = "/etc/sysctl.d/60-cardbridge.conf"

// SysctlFile keeps the per-user ports lo to hi out of Linux's ephemeral
// (outgoing connection) ports, so that no program's connection lands on a
// user's port; the setting covers IPv6 as well.
func SysctlFile(lo, hi int) string {
	return fmt.Sprintf(`# cardbridge: keep the port service's per-user ports out of the ports Linux
# picks for outgoing connections (IPv4 and IPv6). If CARDBRIDGE_RANGE in
# /etc/default/cardbridge-portservice names another range, put it here too,
# then run: sudo sysctl --system
net.ipv4.ip_local_reserved_ports = %d-%d
`, lo, hi)
}

// LinuxFiles are the files that make up a Linux install with the programs
// in binDir: the service unit (in serviceUnitDir), the agent's user unit
// (in userUnitDir), its autostart entry, the settings file and the sysctl
// file reserving the default per-user range.
func LinuxFiles(binDir, serviceUnitDir, userUnitDir string) []File {
	svc := binDir + "/cardbridge-portservice"
	agent := binDir + "/cardbridge"
	return []File{
		{Path: serviceUnitDir + "/" + ServiceName + ".service", Data: SystemdServiceUnit(svc, nil), Mode: 0o644},
		{Path: userUnitDir + "/" + AgentName + ".service", Data: SystemdAgentUnit(agent), Mode: 0o644},
		{Path: "/etc/xdg/autostart/" + AgentName + ".desktop", Data: XDGAutostartEntry(agent), Mode: 0o644},
		{Path: "/etc/default/" + ServiceName, Data: DefaultsFile, Mode: 0o644},
		{Path: SysctlPath, Data: SysctlFile(portservice.DefaultRange.Lo, portservice.DefaultRange.Hi), Mode: 0o644},
	}
}
