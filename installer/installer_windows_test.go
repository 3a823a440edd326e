package installer

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/cardbridge/cardbridge/internal/wine"
)

// needThrowawayWindows skips unless the machine's services and HKLM may be
// changed: under Wine (a throw-away prefix) or when
// CARDBRIDGE_TEST_SYSTEM=1 says so on a Windows test machine, and only as
// administrator.
func needThrowawayWindows(t *testing.T) {
	t.Helper()
	if !wine.Running() && os.Getenv("CARDBRIDGE_TEST_SYSTEM") != "1" {
		t.Skip("changes HKLM and the services: runs under Wine, or on a test machine with CARDBRIDGE_TEST_SYSTEM=1")
	}
	if !isAdmin() {
		t.Skip("needs administrator rights")
	}
}

func TestAgentCommand(t *testing.T) {
	got := AgentCommand(`C:\Program Files\cardbridge\cardbridge.exe`)
	if want := `"C:\Program Files\cardbridge\cardbridge-supervisor.exe" --portservice \\.\pipe\cardbridge-portservice`; got != want {
		t.Errorf("AgentCommand = %s, want %s", got, want)
	}
}

// TestLoginWindows sets, reads and removes the Run value in the real
// registry.
func TestLoginWindows(t *testing.T) {
	needThrowawayWindows(t)
	exe := `C:\Program Files\cardbridge\cardbridge.exe`
	for i := 0; i < 2; i++ { // a second install changes nothing
		if _, err := installLogin(exe); err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
	}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, RunKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := k.GetStringValue(RunValue)
	k.Close()
	if err != nil || v != AgentCommand(exe) {
		t.Errorf("Run value %q = %q (%v), want %q", RunValue, v, err, AgentCommand(exe))
	}
	if st, detail := loginStatus(); st != StateInstalled || !strings.Contains(detail, `cardbridge-supervisor.exe" --portservice`) {
		t.Errorf("login status %q (%s)", st, detail)
	}
	if removed, err := uninstallLogin(); err != nil || removed == "" {
		t.Errorf("uninstall: %q, %v", removed, err)
	}
	if st, _ := loginStatus(); st != StateNotInstalled {
		t.Errorf("after uninstall: login status %q", st)
	}
	if removed, err := uninstallLogin(); err != nil || removed != "" {
		t.Errorf("second uninstall: %q, %v; want nothing to do", removed, err)
	}
}

// TestEnsureRecovery gives a scratch service the port service's recovery
// actions through the real service control manager.
func TestEnsureRecovery(t *testing.T) {
	needThrowawayWindows(t)
	m, err := mgr.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect()
	name := "cardbridge-test-recovery"
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.CreateService(name, exe, mgr.Config{StartType: mgr.StartManual, DisplayName: name})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Delete()
		s.Close()
	}()
	have, err := s.RecoveryActions()
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		wine.Skip(t, "the service manager does not implement failure actions (QueryServiceConfig2 SERVICE_CONFIG_FAILURE_ACTIONS: invalid level)")
	}
	if err != nil || len(have) != 0 {
		t.Fatalf("a new service has recovery actions %v (%v)", have, err)
	}
	if err := EnsureRecovery(name); err != nil {
		t.Fatalf("EnsureRecovery: %v", err)
	}
	have, err = s.RecoveryActions()
	if err != nil {
		t.Fatal(err)
	}
	if len(have) != len(Recovery) {
		t.Fatalf("recovery actions %v, want %v", have, Recovery)
	}
	for i := range have {
		if have[i].Type != Recovery[i].Type || have[i].Delay != Recovery[i].Delay {
			t.Errorf("action %d = %+v, want %+v", i, have[i], Recovery[i])
		}
	}
	if p, err := s.ResetPeriod(); err != nil || p != RecoveryResetSeconds {
		t.Errorf("reset period %d (%v), want %d", p, err, RecoveryResetSeconds)
	}
	// Actions an administrator set are left alone.
	mine := []mgr.RecoveryAction{{Type: mgr.ServiceRestart, Delay: 42 * time.Second}}
	if err := s.SetRecoveryActions(mine, 60); err != nil {
		t.Fatal(err)
	}
	if err := EnsureRecovery(name); err != nil {
		t.Fatal(err)
	}
	if have, _ := s.RecoveryActions(); len(have) != 1 || have[0].Delay != 42*time.Second {
		t.Errorf("EnsureRecovery replaced the administrator's actions: %v", have)
	}
}
