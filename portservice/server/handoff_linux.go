package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// systemdHandoff is the systemd file descriptor store: sockets come in by
// the socket-activation protocol (LISTEN_FDS, LISTEN_FDNAMES) and go out as
// FDSTORE=1 messages on the notification socket (NOTIFY_SOCKET), which the
// unit lets the main process use (NotifyAccess=main).
type systemdHandoff struct{}

func newHandoff() handoff { return systemdHandoff{} }

func (systemdHandoff) inherited() []keptSocket {
	var out []keptSocket
	for _, f := range activation.Files(true) {
		k := keptSocket{name: f.Name()}
		ln, err := net.FileListener(f) // a copy; f is closed below
		switch _, tcp := ln.(*net.TCPListener); {
		case err != nil:
			k.err = err
		case !tcp:
			_ = ln.Close()
			k.err = errors.New("not a TCP listening socket")
		default:
			k.ln = ln
		}
		_ = f.Close()
		out = append(out, k)
	}
	return out
}

func (systemdHandoff) keep(name string, ln net.Listener) (bool, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return false, fmt.Errorf("keep %s: %T has no descriptor", name, ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("keep %s: %w", name, err)
	}
	var sent bool
	var serr error
	if err := raw.Control(func(fd uintptr) {
		sent, serr = notify("FDSTORE=1\nFDNAME="+name, int(fd))
	}); err != nil {
		return false, fmt.Errorf("keep %s: %w", name, err)
	}
	if serr != nil {
		return false, fmt.Errorf("keep %s: %w", name, serr)
	}
	return sent, nil
}

func (systemdHandoff) forget(name string) error {
	_, err := notify("FDSTOREREMOVE=1\nFDNAME=" + name)
	return err
}

// notify sends state, with fds attached, to the service manager; false,
// nil when the service does not run under one.
func notify(state string, fds ...int) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	// An unconnected datagram socket: net's connected ones refuse
	// ancillary data.
	s, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("tell systemd %q: %w", state, err)
	}
	defer syscall.Close(s)
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if err := syscall.Sendmsg(s, []byte(state), oob, &syscall.SockaddrUnix{Name: addr}, 0); err != nil {
		return false, fmt.Errorf("tell systemd at %s %q: %w", addr, state, err)
	}
	return true, nil
}
