package doctor

import "fmt"

// The fixes differ by platform; goos picks one, so that tests can check each
// platform's text anywhere. A Linux host without systemd is "linux-noinit"
// (see hostOS): its fixes name no systemctl command that would not work
// there. The service and login-item names are those the
// installers register: the port service as "cardbridge-portservice"
// (systemd unit, Windows service; launchd org.cardbridge.portservice) and
// the agent as "cardbridge-agent" (systemd user unit; launchd
// org.cardbridge.agent; a Run entry on Windows).

func fixStartPCSC(goos string) string {
	switch goos {
	case "linux":
		return "start the smart card service: sudo systemctl start pcscd.socket pcscd (if it is not installed: sudo apt-get install pcscd libccid)"
	case linuxNoInit:
		return "start the smart card service from your init system, or by hand: sudo pcscd (if it is not installed: sudo apt-get install pcscd libccid)"
	case "windows":
		return "start the Smart Card service (SCardSvr): services.msc, or as administrator `sc start SCardSvr`; Windows stops it while no reader is plugged in, so plug the reader in first"
	case "darwin":
		return "plug the card reader in (macOS starts its smart card service when a reader appears); if it still fails, unplug it, wait 10 seconds and plug it in again"
	}
	return "start the PC/SC daemon: sudo pcscd"
}

func fixRestartPCSC(goos string) string {
	switch goos {
	case "linux":
		return "restart the smart card service: sudo systemctl restart pcscd"
	case linuxNoInit:
		return "restart the smart card service from your init system, or by hand: sudo pkill -x pcscd; sudo pcscd"
	case "windows":
		return "restart the Smart Card service (SCardSvr): services.msc, or in an administrator PowerShell `Restart-Service SCardSvr`"
	case "darwin":
		return "unplug the card reader, wait 10 seconds and plug it in again; if it still hangs, restart the Mac"
	}
	return "restart the PC/SC daemon (pcscd)"
}

func fixNoPCSCSupport() string {
	return "this cardbridge was built without PC/SC support; install the cardbridge package for this platform"
}

func fixNoReader(goos string) string {
	switch osOf(goos) {
	case "linux":
		return "connect the card reader; check that `lsusb` lists it and that its driver is installed (sudo apt-get install libccid), then run doctor again"
	case "windows":
		return "connect the card reader; check that it appears under \"Smart card readers\" in Device Manager (devmgmt.msc), then run doctor again"
	case "darwin":
		return "connect the card reader; check that it appears in System Information > USB, then run doctor again"
	}
	return "connect the card reader and check that its driver is installed"
}

func fixStartPortService(goos string) string {
	switch goos {
	case "linux":
		return "start the port service: sudo systemctl start cardbridge-portservice (see why it stopped: systemctl status cardbridge-portservice)"
	case linuxNoInit:
		return "start the port service from your init system (this host runs no systemd), or by hand: sudo cardbridge-portservice run"
	case "windows":
		return "start the \"cardbridge port service\": services.msc, or as administrator `sc start cardbridge-portservice`"
	case "darwin":
		return "start the port service: sudo launchctl kickstart -k system/org.cardbridge.portservice"
	}
	return "start the port service: sudo cardbridge-portservice run"
}

func fixRestartPortService(goos string) string {
	switch goos {
	case "linux":
		return "restart the port service: sudo systemctl restart cardbridge-portservice"
	case linuxNoInit:
		return "restart the port service from your init system (this host runs no systemd), or end it and run: sudo cardbridge-portservice run"
	case "windows":
		return "restart the \"cardbridge port service\": services.msc, or in an administrator PowerShell `Restart-Service cardbridge-portservice`"
	case "darwin":
		return "restart the port service: sudo launchctl kickstart -k system/org.cardbridge.portservice"
	}
	return "restart the port service (cardbridge-portservice run)"
}

func fixStartAgent(goos string) string {
	switch goos {
	case "linux":
		return "start the agent: systemctl --user start cardbridge-agent, or log out and back in (it starts at login), or run `cardbridge agent` in a terminal"
	case linuxNoInit:
		return "start the agent: log out and back in (a desktop starts it at login), or run `cardbridge agent` in a terminal"
	case "windows":
		return "sign out and back in (the agent starts at sign-in), or start it now: press Windows+R and run cardbridge-supervisor.exe from cardbridge's folder, by default \"%ProgramFiles%\\cardbridge\\cardbridge-supervisor.exe\" (it keeps the agent running, as at sign-in)"
	case "darwin":
		return "start the agent: launchctl kickstart gui/$(id -u)/org.cardbridge.agent, or log out and back in"
	}
	return "start the agent: cardbridge agent"
}

func fixRestartAgent(goos string) string {
	switch goos {
	case "linux":
		return "restart the agent: systemctl --user restart cardbridge-agent (or end the `cardbridge agent` process and run it again)"
	case linuxNoInit:
		return "end the agent (pkill -x cardbridge): the session's cardbridge-supervisor starts it again within seconds; if none runs, run `cardbridge agent` again, or log out and back in"
	case "windows":
		return "end cardbridge.exe in Task Manager: cardbridge-supervisor.exe starts it again within seconds (if it does not come back, sign out and back in)"
	case "darwin":
		return "restart the agent: launchctl kickstart -k gui/$(id -u)/org.cardbridge.agent"
	}
	return "end the `cardbridge agent` process and start it again"
}

// fixRegisterAgent is for an agent running standalone (--listen) on a host
// that has a port service.
func fixRegisterAgent(goos string) string {
	return "stop the agent started with --listen and start it without --listen, so that it registers with the port service; " + fixStartAgent(goos)
}

// whoListens says how to find the program listening on a loopback port.
func whoListens(goos string, port int) string {
	switch osOf(goos) {
	case "linux":
		return fmt.Sprintf("sudo ss -ltnp 'sport = :%d'", port)
	case "windows":
		return fmt.Sprintf("netstat -abno | findstr :%d (as administrator)", port)
	case "darwin":
		return fmt.Sprintf("sudo lsof -nP -iTCP:%d -sTCP:LISTEN", port)
	}
	return fmt.Sprintf("netstat -an | grep %d", port)
}

// whoHoldsRange is the command that lists the programs holding TCP ports lo
// to hi, with their users.
func whoHoldsRange(goos string, lo, hi int) string {
	switch osOf(goos) {
	case "linux":
		return fmt.Sprintf("sudo ss -tanpe '( sport >= :%d and sport <= :%d )'", lo, hi)
	case "windows":
		return "netstat -abno (as administrator), the lines whose local port is in the range"
	case "darwin":
		return fmt.Sprintf("sudo lsof -nP -iTCP:%d-%d", lo, hi)
	}
	return fmt.Sprintf("netstat -an, the lines whose local port is %d-%d", lo, hi)
}

// policyPage is the browser page that shows the policies in force.
func policyPage(b Browser) string {
	if b.ID == "edge" {
		return "edge://policy"
	}
	return "chrome://policy"
}

// linuxNoInit is the platform of fixes for a Linux host without systemd.
const linuxNoInit = "linux-noinit"

// hostOS is the platform fixes are given for: goos, except that a Linux
// host whose service manager is not systemd is linuxNoInit.
func hostOS(goos, serviceManager string) string {
	if goos == "linux" && serviceManager != "systemd" {
		return linuxNoInit
	}
	return goos
}

// osOf is the operating system of a platform of fixes.
func osOf(platform string) string {
	if platform == linuxNoInit {
		return "linux"
	}
	return platform
}
