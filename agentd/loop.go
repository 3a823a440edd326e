package agentd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// Pacing of the port service's loss: the agent waits retryMin before it
// registers again, doubling the wait up to retryMax while the service does
// not answer. bindAttempts bounds the ports tried when others are held.
const (
	retryMin     = 500 * time.Millisecond
	retryMax     = 10 * time.Second
	bindAttempts = 6
)

// Pacing of the wait for a port service that is not there when an agent
// told to use one starts (it is starting too, or restarting for an
// upgrade): the agent asks again after awaitMin, doubling the wait up to
// awaitStep, until it has waited awaitMax in all.
const (
	awaitMin  = 100 * time.Millisecond
	awaitStep = 2 * time.Second
	awaitMax  = 30 * time.Second
)

// registration is the agent's registration with the port service, as the
// loop uses it (a *portservice.Registration, or a test's double).
type registration interface {
	Port() int                                    // the port the service gave
	Domains() string                              // the host's DomainList when registered
	Updates() <-chan portservice.Message          // "move" and "domainlist"; closed when the service goes away
	Listening(port int) error                     // tell the service the agent serves on port
	BindFailed(context.Context, int) (int, error) // port is held: ask for another
	Close() error
}

// serviceRegistration is a *portservice.Registration as a registration.
type serviceRegistration struct{ r *portservice.Registration }

func (s serviceRegistration) Port() int                           { return s.r.Port }
func (s serviceRegistration) Domains() string                     { return s.r.Domains }
func (s serviceRegistration) Updates() <-chan portservice.Message { return s.r.Updates }
func (s serviceRegistration) Listening(port int) error            { return s.r.Listening(port) }
func (s serviceRegistration) BindFailed(ctx context.Context, port int) (int, error) {
	return s.r.BindFailed(ctx, port)
}
func (s serviceRegistration) Close() error { return s.r.Close() }

// register registers self with the port service at path.
func register(ctx context.Context, path string, self peercred.User) (registration, error) {
	r, err := portservice.Register(ctx, path, self)
	if err != nil {
		return nil, err
	}
	return serviceRegistration{r}, nil
}

// listenLocalhost listens on port of both loopback addresses.
func listenLocalhost(port int) ([]net.Listener, error) {
	return localhttp.Listen("localhost:" + strconv.Itoa(port))
}

// server is the HTTP API (*httpapi.Server): it serves on listeners of one
// port until ctx ends.
type server interface {
	Serve(ctx context.Context, lns ...net.Listener) error
}

// loop keeps the HTTP API served on the agent's port: the port the port
// service gives, moving when it says so, and registering again when it
// goes away. Its fields are the agent's parts the loop works with.
type loop struct {
	log       zerolog.Logger
	srv       server
	domains   *domainSource
	connected atomic.Bool // registered with the port service (versioninfo)
	register  func(context.Context) (registration, error)
	// fallback, when set, is where to serve standalone when no port
	// service listens (localsock.ErrNoService).
	fallback string
	listen   func(port int) ([]net.Listener, error)
	after    func(time.Duration) <-chan time.Time // time.After
}

// open finds the agent's port before anything else runs: with listen set
// it listens there standalone (reg is nil); otherwise it registers with
// the port service and binds the port the service gives. It fails if it
// cannot, saying what to do.
func (l *loop) open(ctx context.Context, listen string) (reg registration, lns []net.Listener, port int, err error) {
	if listen != "" {
		lns, err = l.listenStandalone(ctx, listen)
		return nil, lns, 0, err
	}
	reg, err = l.register(ctx)
	if err != nil && l.fallback == "" && serviceAway(err) {
		reg, err = l.awaitService(ctx, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, 0, ctx.Err()
		}
		if l.fallback != "" && errors.Is(err, localsock.ErrNoService) {
			l.log.Warn().Err(err).Str("listen", l.fallback).Msg("no port service: serving standalone (start cardbridge-portservice and restart the agent to use it; an agent given --portservice fails instead)")
			lns, err = l.listenStandalone(ctx, l.fallback)
			return nil, lns, 0, err
		}
		if se := (*portservice.ServiceError)(nil); errors.As(err, &se) && errors.Is(err, portservice.ErrAlreadyRunning) {
			return nil, nil, 0, fmt.Errorf("%w (%s)", portservice.ErrAlreadyRunning, se.Message)
		}
		return nil, nil, 0, fmt.Errorf("%w\n(start cardbridge-portservice, or run standalone with --listen 127.0.0.1:%d)", err, standalonePort)
	}
	l.connected.Store(true)
	l.domains.fromService(reg.Domains())
	if lns, port, err = l.bind(ctx, reg, reg.Port()); err != nil {
		reg.Close()
		return nil, nil, 0, err
	}
	return reg, lns, port, nil
}

// serviceAway reports whether err says no port service is there to answer
// (none listens, or the one there closed the connection as it stopped).
func serviceAway(err error) bool {
	return errors.Is(err, localsock.ErrNoService) || errors.Is(err, portservice.ErrServiceGone)
}

// awaitService registers with a port service that did not answer the
// first time (err), asking again until it answers, ctx ends or awaitMax has
// been waited; it returns the last error then.
func (l *loop) awaitService(ctx context.Context, err error) (registration, error) {
	msg := "no port service yet; waiting for it (it may be starting or restarting)"
	if errors.Is(err, portservice.ErrServiceGone) {
		msg = "the port service closed the registration (it is stopping); waiting for it to start again"
	}
	l.log.Warn().Err(err).Dur("upTo", awaitMax).Msg(msg)
	waited := time.Duration(0)
	for wait := awaitMin; waited < awaitMax && serviceAway(err); wait = min(2*wait, awaitStep) {
		select {
		case <-ctx.Done():
			return nil, err
		case <-l.after(wait):
		}
		waited += wait
		var reg registration
		if reg, err = l.register(ctx); err == nil {
			l.log.Info().Dur("waited", waited).Msg("the port service answered")
			return reg, nil
		}
	}
	return nil, err
}

// listenStandalone listens on addr; a port another cardbridge already
// serves is named as such.
func (l *loop) listenStandalone(ctx context.Context, addr string) ([]net.Listener, error) {
	lns, err := localhttp.Listen(addr)
	if errors.Is(err, localhttp.ErrPortHeld) {
		if _, p, perr := net.SplitHostPort(addr); perr == nil {
			port, _ := strconv.Atoi(p)
			if vi, ok := localhttp.WhoServes(ctx, port); ok {
				what := "another cardbridge agent"
				if vi.Product != "cardbridge" {
					what = "a " + vi.Product
				}
				return nil, fmt.Errorf("%s (version %s) already serves on port %d: stop it, or give --listen another port (%w)", what, vi.Version, port, err)
			}
		}
	}
	return lns, err
}

// serve serves the API on lns, bound to port, the one reg gave, until ctx
// ends or serving fails. It puts the service's DomainList updates in force,
// moves when the service says so, and when the service goes away keeps
// serving and registers again, moving only if it gives another port. The
// registration in force is closed when serve returns.
func (l *loop) serve(ctx context.Context, reg registration, lns []net.Listener, port int) error {
	defer func() {
		if reg != nil {
			reg.Close()
		}
	}()
	s := l.start(ctx, lns)
	defer func() { s.stop() }()
	for {
		var to int // the port to move to
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.done:
			return err
		case m, ok := <-reg.Updates():
			switch {
			case !ok:
				if reg = l.reregister(ctx, reg); reg == nil {
					return nil // ctx ended
				}
				if reg.Port() == port {
					if err := reg.Listening(port); err != nil {
						l.log.Warn().Err(err).Msg("tell the port service the agent listens")
					}
					l.log.Info().Int("port", port).Msg("registered again on the same port")
					continue
				}
				l.log.Warn().Int("from", port).Int("to", reg.Port()).Msg("registered again on a new port")
				to = reg.Port()
			case m.Type == portservice.MsgMove:
				l.log.Warn().Int("from", port).Int("to", m.Port).Msg("the port service moves this agent to a new port")
				to = m.Port
			case m.Type == portservice.MsgDomainList:
				l.domains.fromService(m.DomainList)
				continue
			default:
				continue
			}
		}
		// Move: stop serving, bind the new port (or the one the service
		// gives while it is held), and serve there.
		s.stop()
		var err error
		if lns, port, err = l.bind(ctx, reg, to); err != nil {
			return err
		}
		s = l.start(ctx, lns)
	}
}

// serving is the API being served on one port.
type serving struct {
	done <-chan error // what Serve returned, when it ends by itself
	stop func()       // stops serving and waits for Serve to return
}

func (l *loop) start(ctx context.Context, lns []net.Listener) serving {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() { done <- l.srv.Serve(ctx, lns...); close(ended) }()
	return serving{done: done, stop: func() { cancel(); <-ended }}
}

// bind listens on port, the one the port service gave, and tells the
// service. While another program holds the port it tells the service so
// and tries the port the service gives instead, up to bindAttempts ports.
// It returns the listeners and their port. A service gone before it could
// be told leaves reg closed.
func (l *loop) bind(ctx context.Context, reg registration, port int) ([]net.Listener, int, error) {
	for attempt := 1; ; attempt++ {
		lns, err := l.listen(port)
		if err == nil {
			if err := reg.Listening(port); err != nil {
				// The service went away (it restarts) after giving the
				// port: serve on it, and register again as when the
				// service goes away later (closing the registration ends
				// its updates, which serve answers by registering again).
				l.log.Warn().Err(err).Int("port", port).Msg("could not tell the port service the agent listens; registering again")
				reg.Close()
			}
			return lns, port, nil
		}
		if attempt == bindAttempts {
			return nil, 0, fmt.Errorf("cannot listen on any port the port service gave: %w", err)
		}
		l.log.Warn().Err(err).Int("port", port).Msg("cannot listen on the port the port service gave; asking for another")
		if port, err = reg.BindFailed(ctx, port); err != nil {
			return nil, 0, err
		}
	}
}

func closeAll(lns []net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// reregister closes lost, the registration of a port service that went
// away (it restarted, or was upgraded), and registers again: first after
// retryMin, then doubling the wait up to retryMax, until the service
// answers or ctx ends (nil). The new registration's DomainList is put in
// force.
func (l *loop) reregister(ctx context.Context, lost registration) registration {
	l.connected.Store(false)
	lost.Close()
	l.log.Warn().Msg("lost the port service; registering again")
	for wait := retryMin; ; wait = min(2*wait, retryMax) {
		select {
		case <-ctx.Done():
			return nil
		case <-l.after(wait):
		}
		reg, err := l.register(ctx)
		if err != nil {
			l.log.Debug().Err(err).Msg("registering again")
			continue
		}
		l.connected.Store(true)
		l.domains.fromService(reg.Domains())
		return reg
	}
}
