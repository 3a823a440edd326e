package server

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// Restarts without refusing pages. Under systemd the unit gives the service
// a file descriptor store (FileDescriptorStoreMax=): the service hands the
// service manager a copy of each well-known port's listening socket as it
// opens it, and gets them back when it starts again. While the service
// restarts (an upgrade, a crash) the sockets stay open, so a page's
// GetPortNumber waits in the socket's queue for the new process instead of
// being refused, which pages report as "not installed or running". A full
// stop closes them. Elsewhere (Windows, macOS, no systemd) there is no store
// and a restart is a short gap, as before.

// handoff is the service manager's side: what the service was given at
// start, and where it keeps what it opens.
type handoff interface {
	// inherited returns the sockets the service manager passed in, each
	// with the name it was kept under; each is returned once per process.
	inherited() []keptSocket
	// keep hands the manager a copy of ln under name. It returns false,
	// nil when there is no manager to keep it.
	keep(name string, ln net.Listener) (bool, error)
	// forget tells the manager to close what it keeps under name.
	forget(name string) error
}

// keptSocket is a listening socket the service manager passed in. ln is
// nil when the descriptor was not a TCP listening socket; err says why.
type keptSocket struct {
	name string
	ln   net.Listener
	err  error
}

// keptName is the name a well-known port's sockets are kept under.
func keptName(port int) string { return "wellknown-" + strconv.Itoa(port) }

// portOfKept is the well-known port a kept name is for (0 if none).
func portOfKept(name string) int {
	p, err := strconv.Atoi(strings.TrimPrefix(name, "wellknown-"))
	if err != nil || !strings.HasPrefix(name, "wellknown-") {
		return 0
	}
	return p
}

// keptListeners are the well-known ports' listening sockets the service
// was given at start, by port.
type keptListeners map[int][]net.Listener

// takeKept collects the sockets h passed in: loopback TCP listeners of
// well-known ports in ports. Anything else (a port no longer configured, a
// descriptor that is not such a socket) is closed, and the manager told to
// forget it, so that no port stays held for nothing.
func takeKept(h handoff, ports []int, log zerolog.Logger) keptListeners {
	kept := keptListeners{}
	for _, k := range h.inherited() {
		port := portOfKept(k.name)
		if k.ln != nil {
			ta, ok := k.ln.Addr().(*net.TCPAddr)
			if ok && ta.IP.IsLoopback() && ta.Port == port && slices.Contains(ports, port) {
				kept[port] = append(kept[port], k.ln)
				continue
			}
			_ = k.ln.Close()
		}
		ev := log.Info()
		if k.err != nil {
			ev = log.Warn().Err(k.err)
		}
		ev.Str("name", k.name).Msg("closed a socket kept from the last run: not a well-known port this service serves")
		if err := h.forget(k.name); err != nil {
			log.Warn().Err(err).Str("name", k.name).Msg("could not tell systemd to forget a kept socket")
		}
	}
	return kept
}

// keepListening hands the listeners just opened for port to h, so that the
// next run of the service gets them back. Failing to is logged, not fatal:
// the service works as well, its restarts are only a short gap. A port is
// kept whole or not at all: were only its IPv4 socket kept, the next run
// would serve it on IPv4 alone.
func keepListening(h handoff, port int, lns []net.Listener, log zerolog.Logger) {
	name := keptName(port)
	for _, ln := range lns {
		ok, err := h.keep(name, ln)
		if err != nil {
			log.Warn().Err(err).Int("port", port).Msg("could not hand the well-known port's socket to systemd: pages asking while the service restarts will be refused")
			if ferr := h.forget(name); ferr != nil {
				log.Warn().Err(ferr).Str("name", name).Msg("could not tell systemd to forget a kept socket")
			}
			return
		}
		if !ok {
			return
		}
	}
}
