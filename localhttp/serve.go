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
	"sync"
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
	var lns []net.Listener
	for i, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, port))
		if err != nil {
			if i > 0 && len(lns) > 0 && noSuchFamily(err) {
				break // no IPv6 loopback on this host: serve IPv4 alone
			}
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(h, port), holderOf(h, port, err))
		}
		lns = append(lns, ln)
		if port == "0" {
			port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) // the same port on both
		}
	}
	return lns, nil
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
		Handler:           g.Wrap(h),
		ReadHeaderTimeout: 5 * time.Second,
		// No ReadTimeout: a request's body has bodyReadTimeout, from the
		// Guard (see Wrap). A request without one would pay for a
		// deadline that guards nothing.
		IdleTimeout:    cmp.Or(g.idle, 2*time.Minute),
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
	silent := &silentConns{conns: map[*ownedConn]struct{}{}}
	srv.ConnState = silent.track
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
	if n := silent.drain(shutCtx); n > 0 {
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

// A stopping server looks at the connections that have sent no request
// every silentGrace. It closes those that have been open silentPatience
// (browsers send their request at once, bar the connections they open
// ahead of need, which they retry elsewhere when closed unused); one
// accepted just before the stop, whose client may not yet have run on a
// busy host, is given until then.
const (
	silentGrace    = 100 * time.Millisecond
	silentPatience = time.Second
)

// silentConns are a server's admitted connections that have sent no
// request yet.
type silentConns struct {
	mu    sync.Mutex
	conns map[*ownedConn]struct{}
}

// track is the server's ConnState hook. It costs a request on a kept-alive
// connection one field read.
func (s *silentConns) track(c net.Conn, state http.ConnState) {
	oc, ok := c.(*ownedConn)
	if !ok || oc.spoke {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		s.conns[oc] = struct{}{}
	case http.StateActive, http.StateHijacked, http.StateClosed:
		// The hooks of a connection run in order, on its goroutine after
		// StateNew; closeAll reads only the map.
		oc.spoke = true
		delete(s.conns, oc)
	}
}

// drain waits until every connection that has sent nothing has either
// sent a request or been closed as silent (closeSilent), or until ctx
// ends, and returns how many it closed.
func (s *silentConns) drain(ctx context.Context) (closed int) {
	tick := time.NewTicker(silentGrace)
	defer tick.Stop()
	for {
		n, waiting := s.closeSilent(time.Now())
		closed += n
		if waiting == 0 {
			return closed
		}
		select {
		case <-ctx.Done():
			return closed
		case <-tick.C:
		}
	}
}

// closeSilent closes the connections that have sent nothing and have been
// open silentPatience at now, and returns how many it closed and how many
// it left to send their request. A connection whose request has come but
// not yet been read (its goroutine not yet run, on a busy host) is left
// whatever its age: it is about to be answered.
func (s *silentConns) closeSilent(now time.Time) (closed, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for oc := range s.conns {
		if received(oc.Conn) || now.Sub(oc.accepted) < silentPatience {
			waiting++
			continue
		}
		_ = oc.Close()
		delete(s.conns, oc)
		closed++
	}
	return closed, waiting
}
