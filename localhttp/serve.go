package localhttp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/cardbridge/cardbridge/peercred"
)

// peerOfAddrs finds a connection's peer from its addresses, which any
// wrapper around the TCP connection passes on.
func peerOfAddrs(c net.Conn) (peercred.User, error) {
	local, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return peercred.User{}, fmt.Errorf("local address %v: %w", c.LocalAddr(), err)
	}
	remote, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return peercred.User{}, fmt.Errorf("remote address %v: %w", c.RemoteAddr(), err)
	}
	return peercred.PeerOf(local, remote)
}

// Listen opens loopback listeners for addr: "127.0.0.1:P" or "[::1]:P" for
// one, "localhost:P" for both (browsers try either). Anything that is not a
// loopback address is refused. With "localhost:P", a port another socket
// holds on either family is an error naming the holder (a browser trying
// [::1] first would otherwise reach it); only a host without IPv6 loopback
// is served on 127.0.0.1 alone.
func Listen(addr string) ([]net.Listener, error) {
	return listen(addr)
}

// ErrPortHeld wraps a listen error when another socket holds the port.
var ErrPortHeld = errors.New("the port is held by another program")

// holderOf adds to a failed listen on host:port who holds the port, where
// the OS tells.
func holderOf(host, port string, err error) error {
	if !addrInUse(err) {
		return err
	}
	ap, perr := netip.ParseAddrPort(net.JoinHostPort(host, port))
	if perr != nil || ap.Port() == 0 {
		return fmt.Errorf("%w: %w", ErrPortHeld, err)
	}
	l, ferr := peercred.FindListener(ap)
	if ferr != nil {
		return fmt.Errorf("%w (its owner could not be found: %v): %w", ErrPortHeld, ferr, err)
	}
	who := l.Owner.Describe()
	if proc := l.Process(); proc != "" {
		who += ", " + proc
	}
	return fmt.Errorf("%w: listening on %v as %s: %w", ErrPortHeld, l.Addr, who, err)
}

func listen(addr string) ([]net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	var hosts []string
	switch {
	case host == "localhost":
		hosts = []string{"127.0.0.1", "::1"}
	default:
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("listen address %q: cardbridge listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
		}
		hosts = []string{host}
	}
	for try := 1; ; try++ {
		lns, chosen, err := listenOn(hosts, port)
		// With port 0 the OS chooses the first address's port, which
		// another socket (a client's, say) may hold on the second: choose
		// again.
		if err != nil && chosen && addrInUse(err) && try < anyPortTries {
			continue
		}
		return lns, err
	}
}

// anyPortTries bounds how often listen chooses a port again for port 0.
const anyPortTries = 8

// listenTCP is net.Listen; tests take a port before it is listened on.
var listenTCP = net.Listen

// listenOn listens on port on each of hosts, the same port on all; for
// port "0", chosen reports whether the OS had chosen it when an error came.
func listenOn(hosts []string, port string) (lns []net.Listener, chosen bool, err error) {
	for i, h := range hosts {
		ln, err := listenTCP("tcp", net.JoinHostPort(h, port))
		if err != nil {
			if i > 0 && len(lns) > 0 && noSuchFamily(err) {
				break // no IPv6 loopback on this host: serve IPv4 alone
			}
			for _, l := range lns {
				l.Close()
			}
			return nil, chosen, fmt.Errorf("listen on %s: %w", net.JoinHostPort(h, port), holderOf(h, port, err))
		}
		lns = append(lns, ln)
		if port == "0" {
			port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) // the same port on both
			chosen = true
		}
	}
	return lns, chosen, nil
}

// ServeOptions are the limits and hooks of Guard.Serve.
type ServeOptions struct {
	// MaxConns bounds each listener's open connections (4096 when zero
	// or less).
	MaxConns int
	// BeforeShutdown, if set, runs first when serving ends, to close
	// hijacked connections (WebSockets), which Shutdown does not track.
	BeforeShutdown func()
}

// Serve serves h behind the Guard (see Wrap) on lns, with cardbridge's
// limits (header size and time, idle time, opt.MaxConns connections per
// listener), until ctx ends or a listener fails. Each connection's OS user
// is checked as it is accepted (see admitListener), so connections the
// Guard would refuse never hold a slot.
func (g *Guard) Serve(ctx context.Context, h http.Handler, opt ServeOptions, lns ...net.Listener) error {
	srv := &http.Server{
		Handler: g.Wrap(h),
		// No read deadlines: the connections' table enforces the time a
		// request head and an idle connection may take (see connTable),
		// and a request's body has bodyReadTimeout, from the Guard (see
		// Wrap).
		MaxHeaderBytes: 16 << 10,
		ConnContext:    g.ConnContext,
		ErrorLog:       log.New(io.Discard, "", 0),
		// Without this net/http answers "OPTIONS *" itself, before the
		// Guard, for anyone and unlogged.
		DisableGeneralOptionsHandler: true,
	}
	maxConns := opt.MaxConns
	if maxConns <= 0 {
		maxConns = 4096
	}
	beforeShutdown := opt.BeforeShutdown
	if beforeShutdown == nil {
		beforeShutdown = func() {}
	}
	conns := newConnTable(cmp.Or(g.idle, 2*time.Minute))
	defer conns.stop()
	srv.ConnState = conns.track
	errc := make(chan error, len(lns))
	admits := make([]*admitListener, len(lns))
	for i, ln := range lns {
		admits[i] = newAdmitListener(ln, g, maxConns)
		go func() { errc <- srv.Serve(admits[i]) }()
	}
	select {
	case err := <-errc:
		_ = srv.Close()
		beforeShutdown()
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The stop has two steps. First nothing more is accepted: at a
	// restart, new connections wait in the kernel's queue for the next
	// server (the service manager keeps the listening sockets). Shutdown
	// would close a connection unanswered if its first request came after
	// it began, so the connections that have sent nothing yet are first
	// given their time (see drain) and answered.
	for _, al := range admits {
		_ = al.Close()
	}
	if n := conns.drain(shutCtx); n > 0 {
		g.log.Info().Int("connections", n).Msg("stopping: closed connections that had sent no request")
	}
	// Then the requests under way are answered, and idle connections
	// closed.
	beforeShutdown()
	err := srv.Shutdown(shutCtx)
	if err != nil {
		_ = srv.Close()
	}
	return err
}
