package installer

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/kardianos/service"
)

// Service describes the port service install: its program and the flags
// it runs with (after `run`).
type Service struct {
	Exe  string
	Args []string
}

// State is what Status found.
type State struct {
	Service string // "running", "stopped" or "not installed"
	Login   string // the agent's login start: "installed" or "not installed"
	Detail  string // what is installed where
}

// Service states.
const (
	StateRunning      = "running"
	StateStopped      = "stopped"
	StateNotInstalled = "not installed"
	StateInstalled    = "installed"
)

// program satisfies service.Interface for control operations: running the
// service is `cardbridge-portservice run`, never through this package.
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

// manager returns the service manager's handle on the port service.
func (s Service) manager() (service.Service, error) {
	if runtime.GOOS == "linux" {
		if sys := service.ChosenSystem(); sys == nil || sys.String() != "linux-systemd" {
			name := "an init system cardbridge does not support"
			if sys != nil {
				name = sys.String()
			}
			return nil, fmt.Errorf("this machine runs %s, not systemd: run `cardbridge-portservice run` from your init system instead", name)
		}
	}
	cfg := &service.Config{
		Name:        ServiceName,
		DisplayName: ServiceDisplayName,
		Description: ServiceDescription,
		Executable:  s.Exe,
		Arguments:   append([]string{"run"}, s.Args...),
		Option: service.KeyValue{
			// systemd: the hardened unit, rendered here (it has no template
			// actions left, so kardianos writes it as it is).
			"SystemdScript": SystemdServiceUnit(s.Exe, s.Args),
			// launchd: start at boot, restart when it dies.
			"LaunchdConfig": LaunchDaemonPlist(s.Exe, s.Args),
			"KeepAlive":     true,
			"RunAtLoad":     true,
			// Windows: start at boot; recovery actions are set after install.
			"StartType": "automatic",
		},
	}
	if runtime.GOOS == "darwin" {
		cfg.Name = LaunchdServiceLabel
	}
	return service.New(program{}, cfg)
}

// current checks that the caller may change services, and asks the
// service manager for the port service's state.
func (s Service) current() (service.Service, string, error) {
	if !isAdmin() {
		return nil, "", ErrNotAdmin
	}
	m, err := s.manager()
	if err != nil {
		return nil, "", err
	}
	st, err := status(m)
	if err != nil {
		return nil, "", fmt.Errorf("ask the service manager about %s: %w", ServiceName, err)
	}
	return m, st, nil
}

// ours is current for installing and removing, which are a system package's
// to do where one installed the port service: then it fails with advice
// after the package's name.
func (s Service) ours(advice string) (service.Service, string, error) {
	m, st, err := s.current()
	if err != nil {
		return nil, "", err
	}
	if pkg := managedByPackage(); pkg != "" {
		return nil, "", fmt.Errorf("%s is installed by %s%s", ServiceName, pkg, advice)
	}
	return m, st, nil
}

// status asks the service manager whether the port service is installed
// and running.
func status(m service.Service) (string, error) {
	st, err := m.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return StateNotInstalled, nil
	case err != nil && strings.Contains(err.Error(), "failed state"):
		// systemd's "failed": installed, not running (it gave up
		// restarting). Install, start and stop must still work on it.
		return StateStopped, nil
	case err != nil:
		return "", err
	case st == service.StatusRunning:
		return StateRunning, nil
	default:
		return StateStopped, nil
	}
}

// Install installs the port service (replacing an earlier install, so that
// new flags take effect), sets it to restart after a failure, registers its
// event source (Windows), starts the agent at every user's login, and
// starts the service. Running it again is harmless. Progress goes to out.
func Install(s Service, out io.Writer) error {
	m, st, err := s.ours("; change its settings there (see the README), or remove that first")
	if err != nil {
		return err
	}
	agentExe, err := AgentExecutable(s.Exe)
	if err != nil {
		return err
	}
	if st != StateNotInstalled {
		fmt.Fprintf(out, "%s is already installed (%s): replacing it with these settings\n", ServiceName, st)
		if err := stopAndRemove(m, st); err != nil {
			return err
		}
	}
	if err := m.Install(); err != nil {
		return fmt.Errorf("install %s: %w", ServiceName, err)
	}
	if err := setRecovery(ServiceName); err != nil {
		return fmt.Errorf("set %s to restart after a failure: %w", ServiceName, err)
	}
	fmt.Fprintf(out, "installed %s (%s)\n", ServiceName, s.Exe)
	if where, err := installEventSource(); err != nil {
		return fmt.Errorf("register %s's event source: %w", ServiceName, err)
	} else if where != "" {
		fmt.Fprintf(out, "its warnings and errors go to the Application event log: %s\n", where)
	}
	where, err := installLogin(agentExe)
	if err != nil {
		return fmt.Errorf("start the agent at login: %w", err)
	}
	fmt.Fprintf(out, "the agent starts at every user's login: %s\n", where)
	if err := startAndWait(m); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s is running\n", ServiceName)
	return nil
}

// Uninstall stops and removes the port service, its event source (Windows)
// and the agent's login start. State (PortStore.txt, DomainList.txt, logs)
// is kept. Running it when nothing is installed is harmless.
func Uninstall(s Service, out io.Writer) error {
	m, st, err := s.ours(": uninstall that instead")
	if err != nil {
		return err
	}
	if st == StateNotInstalled {
		fmt.Fprintf(out, "%s is not installed\n", ServiceName)
	} else {
		if err := stopAndRemove(m, st); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %s\n", ServiceName)
	}
	if where, err := removeEventSource(); err != nil {
		return fmt.Errorf("remove %s's event source: %w", ServiceName, err)
	} else if where != "" {
		fmt.Fprintf(out, "removed its event source: %s\n", where)
	}
	removed, err := uninstallLogin()
	if err != nil {
		return fmt.Errorf("remove the agent's login start: %w", err)
	}
	if removed != "" {
		fmt.Fprintf(out, "removed the agent's login start: %s\n", removed)
	}
	return nil
}

// Start starts the installed port service; starting a running one is
// harmless.
func Start(s Service, out io.Writer) error {
	return toState(s, out, StateRunning, "run `cardbridge-portservice install` first", startAndWait)
}

// Stop stops the port service; stopping a stopped one is harmless.
func Stop(s Service, out io.Writer) error {
	return toState(s, out, StateStopped, "", stop)
}

// toState brings the installed port service to state want (running or
// stopped) with change, unless it is there already, and says so on out.
// hint follows the error when the service is not installed.
func toState(s Service, out io.Writer, want, hint string, change func(service.Service) error) error {
	m, st, err := s.current()
	switch {
	case err != nil:
		return err
	case st == StateNotInstalled && hint != "":
		return fmt.Errorf("%s is not installed: %s", ServiceName, hint)
	case st == StateNotInstalled:
		return fmt.Errorf("%s is not installed", ServiceName)
	case st == want:
		fmt.Fprintf(out, "%s is already %s\n", ServiceName, want)
		return nil
	}
	if err := change(m); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s is %s\n", ServiceName, want)
	return nil
}

// Status reports the port service's state and whether the agent starts at
// login. It needs no administrator rights.
func Status(s Service) (State, error) {
	m, err := s.manager()
	if err != nil {
		return State{}, err
	}
	st, err := status(m)
	if err != nil {
		return State{}, fmt.Errorf("ask the service manager about %s: %w", ServiceName, err)
	}
	login, where := loginStatus()
	return State{Service: st, Login: login, Detail: where}, nil
}

func stopAndRemove(m service.Service, st string) error {
	if st == StateRunning {
		if err := stop(m); err != nil {
			return err
		}
	}
	if err := m.Uninstall(); err != nil {
		return fmt.Errorf("remove %s: %w", ServiceName, err)
	}
	// Windows keeps a deleted service, marked for deletion, while anything
	// (a Services window, say) holds it open; wait for it to go.
	return waitState(m, StateNotInstalled, 200*time.Millisecond, func(st string, _ error) error {
		return fmt.Errorf("%s was removed but is still there (%s): close the Services window or any other tool holding it, then try again", ServiceName, st)
	})
}

// stop asks the service manager to stop the service.
func stop(m service.Service) error {
	if err := m.Stop(); err != nil {
		return fmt.Errorf("stop %s: %w", ServiceName, err)
	}
	return nil
}

// startAndWait starts the service and waits up to 10 s for the service
// manager to report it running.
func startAndWait(m service.Service) error {
	if err := m.Start(); err != nil {
		return fmt.Errorf("start %s: %w", ServiceName, err)
	}
	return waitState(m, StateRunning, 100*time.Millisecond, func(st string, err error) error {
		return fmt.Errorf("%s did not start (state %q, %v): see its log", ServiceName, st, err)
	})
}

// waitState asks the service manager every poll, for up to 10 s, until it
// reports the port service in state want; if it never does, it returns
// timedOut of the last state and error the service manager gave.
func waitState(m service.Service, want string, poll time.Duration, timedOut func(st string, err error) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := status(m)
		if err == nil && st == want {
			return nil
		}
		if time.Now().After(deadline) {
			return timedOut(st, err)
		}
		time.Sleep(poll)
	}
}
