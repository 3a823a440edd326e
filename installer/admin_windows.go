package installer

import (
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// isAdmin reports whether the process runs elevated, as changing services
// and HKLM needs.
func isAdmin() bool {
	return windows.GetCurrentProcessToken().IsElevated()
}

// Recovery are the recovery actions of the port service: restart after 5 s,
// then 10 s, then every minute; the count resets after a day without a
// failure.
var Recovery = []mgr.RecoveryAction{
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
	{Type: mgr.ServiceRestart, Delay: time.Minute},
}

// RecoveryResetSeconds is how long without a failure resets the count.
const RecoveryResetSeconds = 24 * 60 * 60

// setRecovery sets the recovery actions of the service called name.
func setRecovery(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetRecoveryActions(Recovery, RecoveryResetSeconds); err != nil {
		return err
	}
	// Also when the service stops itself with an error, not only on a crash.
	return s.SetRecoveryActionsOnNonCrashFailures(true)
}

// EnsureRecovery sets the recovery actions of the running service called
// name when they are missing (an install by MSI or by hand leaves none).
// It is called by the service itself as it starts.
func EnsureRecovery(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer s.Close()
	have, err := s.RecoveryActions()
	if err == nil && len(have) > 0 {
		return nil
	}
	return setRecovery(name)
}
