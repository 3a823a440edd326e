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
	return withService(name, func(s *mgr.Service) error {
		if err := s.SetRecoveryActions(Recovery, RecoveryResetSeconds); err != nil {
			return err
		}
		// Also when the service stops itself with an error, not only on a crash.
		return s.SetRecoveryActionsOnNonCrashFailures(true)
	})
}

// EnsureRecovery sets the recovery actions of the service called name when
// it has none (an install by MSI or by hand leaves none). The service calls
// it as it starts.
func EnsureRecovery(name string) error {
	var have []mgr.RecoveryAction
	err := withService(name, func(s *mgr.Service) error {
		var err error
		have, err = s.RecoveryActions()
		return err
	})
	if err == nil && len(have) > 0 {
		return nil
	}
	return setRecovery(name)
}

// withService runs f on the service called name.
func withService(name string, f func(*mgr.Service) error) error {
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
	return f(s)
}
