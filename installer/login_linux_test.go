package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginLinux installs, checks and removes the agent's login start in
// a scratch root, with the real systemctl doing the enabling.
func TestLoginLinux(t *testing.T) {
	if _, err := exec.LookPath("systemctl"); err != nil {
		t.Skip("systemctl is not installed")
	}
	old := root
	root = t.TempDir()
	t.Cleanup(func() { root = old })
	link := filepath.Join(root, "etc/systemd/user/default.target.wants", AgentName+".service")

	if st, _ := loginStatus(); st != StateNotInstalled {
		t.Fatalf("empty root: login status %q", st)
	}
	for i := 0; i < 2; i++ { // a second install changes nothing
		where, err := installLogin("/opt/cardbridge/cardbridge")
		if err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
		if !strings.Contains(where, "/etc/systemd/user/cardbridge-agent.service") {
			t.Errorf("install says %q", where)
		}
	}
	target, err := os.Readlink(link)
	if err != nil || !strings.HasSuffix(target, "/etc/systemd/user/"+AgentName+".service") {
		t.Errorf("enablement link %s -> %q (%v)", link, target, err)
	}
	desktop, err := os.ReadFile(filepath.Join(root, "etc/xdg/autostart", AgentName+".desktop"))
	if err != nil || !strings.Contains(string(desktop), "Exec=/opt/cardbridge/cardbridge-supervisor --portservice /run/cardbridge/portservice.sock") {
		t.Errorf("autostart entry: %q (%v)", desktop, err)
	}
	if st, detail := loginStatus(); st != StateInstalled || !strings.Contains(detail, "(enabled)") {
		t.Errorf("login status %q (%s), want installed and enabled", st, detail)
	}

	removed, err := uninstallLogin()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(removed, AgentName+".service") || !strings.Contains(removed, AgentName+".desktop") {
		t.Errorf("uninstall says it removed %q", removed)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("enablement link still there (%v)", err)
	}
	if st, _ := loginStatus(); st != StateNotInstalled {
		t.Errorf("after uninstall: login status %q", st)
	}
	if removed, err := uninstallLogin(); err != nil || removed != "" {
		t.Errorf("second uninstall: %q, %v; want nothing to do", removed, err)
	}
}

func TestManagedByPackage(t *testing.T) {
	old := root
	root = t.TempDir()
	t.Cleanup(func() { root = old })
	if pkg := managedByPackage(); pkg != "" {
		t.Errorf("empty root: managed by %q", pkg)
	}
	unit := filepath.Join(root, "lib/systemd/system", ServiceName+".service")
	if err := os.MkdirAll(filepath.Dir(unit), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte(SystemdServiceUnit("/usr/bin/cardbridge-portservice", nil)), 0o644); err != nil {
		t.Fatal(err)
	}
	if pkg := managedByPackage(); !strings.Contains(pkg, "the cardbridge package") || !strings.Contains(pkg, "/etc/default/"+ServiceName) {
		t.Errorf("with a packaged unit: managed by %q", pkg)
	}
}
