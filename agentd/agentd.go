// Package agentd runs one user's cardbridge agent: its log, the DomainList
// in force (a --domains file and its watch, the port service's list, or the
// built-in one), its port (registered with the port service, or a
// standalone listener), the HTTP API, the card core, moves to another port
// and registering again when the port service restarts, and the watch for
// an upgraded executable.
package agentd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/httpapi"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/pinentry"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// standalonePort is the agent's usual port when it runs without the port
// service (named in the advice when the service cannot be reached).
const standalonePort = 43485

// Options configure the agent; they are the flags of `cardbridge agent`.
type Options struct {
	// Listen, when set, is the loopback address to serve on standalone,
	// without the port service.
	Listen string
	// PortService is the port service's local socket (localsock.DefaultPath
	// when empty).
	PortService string
	// Domains is a DomainList file to use instead of the port service's
	// list, reloaded when it changes.
	Domains string
	// PINEntry is the PIN prompt program; empty for the platform's usual
	// one.
	PINEntry string
	// LogFile is the log file (empty: the per-user log directory), and
	// LogLevel its level: debug, info, warn or error.
	LogFile, LogLevel string
	// UpgradeCheck is how often to look for an upgraded cardbridge
	// executable, to restart onto it; 0 never.
	UpgradeCheck time.Duration
}

// Run runs the agent until ctx ends or it fails. When its executable is
// upgraded it restarts onto the new one in place (where the OS allows it)
// and does not return unless that fails.
func Run(ctx context.Context, opt Options) error {
	if opt.PortService == "" {
		opt.PortService = localsock.DefaultPath
	}
	err := run(ctx, opt)
	if up := (*errUpgraded)(nil); errors.As(err, &up) {
		err = restartOnto(up) // returns only on failure
	}
	return err
}

func run(ctx context.Context, f Options) error {
	log, closer, err := logging.New(logging.Options{File: f.LogFile, Name: "agent", Level: f.LogLevel})
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer closer.Close()
	logPath := f.LogFile
	if r, ok := closer.(*logging.Rotating); ok {
		logPath = r.Path()
	}
	self, err := peercred.Current()
	if err != nil {
		return fmt.Errorf("find the current user: %w", err)
	}
	domains, err := newDomainSource(f.Domains, log)
	if err != nil {
		return err
	}
	var reg *portservice.Registration
	var lns []net.Listener
	if f.Listen != "" {
		if lns, err = localhttp.Listen(f.Listen); err != nil {
			return err
		}
	} else {
		// Registered mode: the port service gives this user's port. Fail
		// now, before anything runs, if it cannot.
		if reg, err = portservice.Register(ctx, f.PortService, self); err != nil {
			if se := (*portservice.ServiceError)(nil); errors.As(err, &se) && errors.Is(err, portservice.ErrAlreadyRunning) {
				return fmt.Errorf("%w (%s)", portservice.ErrAlreadyRunning, se.Message)
			}
			return fmt.Errorf("%w\n(start cardbridge-portservice, or run standalone with --listen 127.0.0.1:%d)", err, standalonePort)
		}
		defer func() { reg.Close() }()
		domains.fromService(reg.Domains)
		if lns, err = bindRegistered(ctx, reg, reg.Port, log); err != nil {
			return err
		}
	}

	mon := pcsc.NewMonitor(pcsc.MonitorOptions{Logger: &log})
	core := agent.New(agent.Options{Monitor: mon, Logger: log, Prepare: httpapi.PrepareEvent})
	connected := atomic.Bool{}
	connected.Store(reg != nil)
	srv := httpapi.New(httpapi.Options{Backend: core, Domains: domains.get, Self: self, Logger: log, LogFile: logPath, PortService: connected.Load,
		PINPrompt: pinPrompt(f.PINEntry, log)})
	defer srv.Close()
	changed := srv.DomainsChanged
	domains.onChange.Store(&changed)

	stopAsked := ctx.Done() // the caller (a signal) ends the agent
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); defer cancel(); _ = core.Run(ctx) }()
	go func() { defer wg.Done(); domains.watch(ctx) }()
	upgraded := make(chan *errUpgraded, 1)
	if canReexec && f.UpgradeCheck > 0 {
		if w := newExeWatch(log); w != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if up, ok := w.wait(ctx, f.UpgradeCheck, core.StopSigning); ok {
					upgraded <- up
					cancel()
				}
			}()
		}
	}
	log.Info().Str("user", self.String()).Str("log", logPath).Bool("portService", reg != nil).Msg("cardbridge agent starting")
	if reg == nil {
		err = srv.Serve(ctx, lns...)
	} else {
		err = serveRegistered(ctx, f, self, reg, lns, srv, domains, &connected, log)
	}
	cancel()
	wg.Wait()
	select {
	case <-stopAsked:
		// Asked to stop as the upgrade came: stop, not restart.
	default:
		select {
		case up := <-upgraded:
			log.Info().Str("path", up.path).Str("new", up.version).Msg("the cardbridge executable was upgraded; restarting onto it")
			return up
		default:
		}
	}
	log.Info().Msg("cardbridge agent stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// pinPrompt asks for the PIN with the pinentry program at path, or the
// platform's usual one when path is empty (looked up when first needed).
func pinPrompt(path string, log zerolog.Logger) agent.PINPrompt {
	return func(ctx context.Context, origin string, retries int, retryMsg string) ([]byte, error) {
		prog := pinentry.Program{Path: path}
		if path == "" {
			var err error
			if prog, err = pinentry.Find(); err != nil {
				return nil, fmt.Errorf("no PIN entry program: %w (install pinentry, or give --pinentry)", err)
			}
		}
		desc := origin + " asks to use your smartcard."
		if retries > 0 {
			desc += fmt.Sprintf("\n\n%d PIN attempts left.", retries)
		}
		pin, err := prog.GetPIN(ctx, pinentry.Request{Title: "cardbridge", Description: desc, Prompt: "PIN:", Error: retryMsg})
		if errors.Is(err, pinentry.ErrCancelled) {
			return nil, fmt.Errorf("%w: %v", agent.ErrPINCancelled, err)
		}
		if err != nil {
			log.Error().Err(err).Msg("PIN entry failed")
		}
		return pin, err
	}
}

// bindRegistered listens on the port the service gave, asking it for
// another while someone else holds it.
func bindRegistered(ctx context.Context, reg *portservice.Registration, port int, log zerolog.Logger) ([]net.Listener, error) {
	for attempt := 0; ; attempt++ {
		lns, err := localhttp.Listen("localhost:" + strconv.Itoa(port))
		if err == nil {
			if err := reg.Listening(port); err != nil {
				closeAll(lns)
				return nil, fmt.Errorf("tell the port service the agent listens: %w", err)
			}
			return lns, nil
		}
		if attempt == 5 {
			return nil, fmt.Errorf("cannot listen on any port the port service gave: %w", err)
		}
		log.Warn().Err(err).Int("port", port).Msg("cannot listen on the port the port service gave; asking for another")
		if port, err = reg.BindFailed(ctx, port); err != nil {
			return nil, err
		}
	}
}

func closeAll(lns []net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// serveRegistered serves on the port the service gave until ctx ends,
// moving when the service says so, and registering again (keeping the
// port, and serving all along) when the service restarts.
func serveRegistered(ctx context.Context, f Options, self peercred.User, reg *portservice.Registration, lns []net.Listener, srv *httpapi.Server, domains *domainSource, connected *atomic.Bool, log zerolog.Logger) error {
	port := reg.Port
	serve := func(lns []net.Listener) (stop func(), done <-chan error) {
		sctx, scancel := context.WithCancel(ctx)
		d := make(chan error, 1)
		fin := make(chan struct{})
		go func() { d <- srv.Serve(sctx, lns...); close(fin) }()
		return func() { scancel(); <-fin }, d
	}
	stop, done := serve(lns)
	defer func() { stop() }()
	backoff := 500 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			return err
		case m, ok := <-reg.Updates:
			if ok {
				switch m.Type {
				case portservice.MsgDomainList:
					domains.fromService(m.DomainList)
				case portservice.MsgMove:
					log.Warn().Int("from", port).Int("to", m.Port).Msg("the port service moves this agent to a new port")
					stop()
					nl, err := bindRegistered(ctx, reg, m.Port, log)
					if err != nil {
						return err
					}
					port = m.Port
					stop, done = serve(nl)
				}
				continue
			}
			// The service went away: keep serving, and register again.
			connected.Store(false)
			reg.Close()
			log.Warn().Msg("lost the port service; registering again")
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 10*time.Second)
				nr, err := portservice.Register(ctx, f.PortService, self)
				if err != nil {
					log.Debug().Err(err).Msg("registering again")
					continue
				}
				reg, backoff = nr, 500*time.Millisecond
				break
			}
			connected.Store(true)
			domains.fromService(reg.Domains)
			if reg.Port == port {
				if err := reg.Listening(port); err != nil {
					log.Warn().Err(err).Msg("tell the port service the agent listens")
				}
				log.Info().Int("port", port).Msg("registered again on the same port")
				continue
			}
			log.Warn().Int("from", port).Int("to", reg.Port).Msg("registered again on a new port")
			stop()
			nl, err := bindRegistered(ctx, reg, reg.Port, log)
			if err != nil {
				return err
			}
			port = reg.Port
			stop, done = serve(nl)
		}
	}
}
