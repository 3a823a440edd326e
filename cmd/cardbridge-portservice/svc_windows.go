package main

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/rs/zerolog"
	"golang.org/x/sys/windows/svc"

	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/portservice/server"
)

// underServiceManager runs run under the Windows service control manager
// when the SCM started the process, passing it session log-on and log-off
// events, and reports false when the process runs from a console.
// An install by MSI or by hand leaves no recovery actions; the service sets
// them itself so that the SCM restarts it after a failure.
func underServiceManager(run func(ctx context.Context) error, onSession func(server.SessionEvent), log zerolog.Logger) (bool, error) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return false, err
	}
	if err := installer.EnsureRecovery(installer.ServiceName); err != nil {
		log.Warn().Err(err).Msg("could not set the service's recovery actions; it will not be restarted after a failure")
	}
	h := &handler{run: run, onSession: onSession}
	if err := svc.Run(installer.ServiceName, h); err != nil {
		return true, fmt.Errorf("run as a Windows service: %w", err)
	}
	return true, h.err
}

// handler is the port service's svc.Handler.
type handler struct {
	run       func(ctx context.Context) error
	onSession func(server.SessionEvent)
	err       error
}

// WTS session change event types (WM_WTSSESSION_CHANGE).
const (
	wtsSessionLogon  = 0x5
	wtsSessionLogoff = 0x6
)

// wtsSessionNotification is WTSSESSION_NOTIFICATION, the event data of a
// session change.
type wtsSessionNotification struct {
	Size      uint32
	SessionID uint32
}

// Execute runs the service until it fails or the SCM stops it.
func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown | svc.AcceptSessionChange
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case err := <-done:
			h.err = err
			status <- svc.Status{State: svc.StopPending}
			if err != nil {
				return true, 1 // a service-specific failure: the SCM's recovery actions apply
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				h.err = <-done
				return false, 0
			case svc.SessionChange:
				if c.EventData == 0 || (c.EventType != wtsSessionLogon && c.EventType != wtsSessionLogoff) {
					continue
				}
				// EventData points at a WTSSESSION_NOTIFICATION owned by the SCM.
				n := *(**wtsSessionNotification)(unsafe.Pointer(&c.EventData))
				h.onSession(server.SessionEvent{Session: n.SessionID, LoggedOn: c.EventType == wtsSessionLogon})
			}
		}
	}
}
