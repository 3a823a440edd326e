package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/httpapi"
	"github.com/cardbridge/cardbridge/internal/flagenv"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/logging"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/pinentry"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
)

// StandalonePort is the agent's port when it runs without the port service.
const StandalonePort = 43485

// agentFlags are the flags of `cardbridge agent`.
type agentFlags struct {
	listen, portService, domains, pinentry, logFile, logLevel string
	upgradeCheck                                              time.Duration
}

func cmdAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f agentFlags
	var keepRunning bool
	fs.BoolVar(&keepRunning, "supervise", false, "keep the agent running: start it again whenever it stops unexpectedly (used at login)")
	fs.StringVar(&f.listen, "listen", "", "standalone: serve on this loopback address, e.g. 127.0.0.1:43485, and do not ask the port service")
	fs.StringVar(&f.portService, "portservice", localsock.DefaultPath, "the port service's local socket")
	fs.StringVar(&f.domains, "domains", "", "a DomainList file to use instead of the port service's")
	fs.StringVar(&f.pinentry, "pinentry", "", "the PIN prompt program (GnuPG pinentry protocol)")
	fs.StringVar(&f.logFile, "log", "", "log file (default: the per-user log directory)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.upgradeCheck, "upgrade-check", 10*time.Second, "how often to look for an upgraded cardbridge executable, to restart onto it when no signing is under way (0: never; not on Windows)")
	if err := flagenv.Parse(fs, args); err != nil {
		return exitUsage
	}
	if keepRunning {
		var childArgs []string
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name != "supervise" {
				childArgs = append(childArgs, "--"+fl.Name+"="+fl.Value.String())
			}
		})
		return supervise(ctx, childArgs, stderr)
	}
	err := runAgent(ctx, f, stderr)
	if up := (*errUpgraded)(nil); errors.As(err, &up) {
		err = restartOnto(up) // returns only on failure
	}
	if err != nil {
		fmt.Fprintf(stderr, "cardbridge agent: %v\n", err)
		if errors.Is(err, portservice.ErrAlreadyRunning) {
			return exitAlreadyRunning
		}
		return 1
	}
	return 0
}

func runAgent(ctx context.Context, f agentFlags, stderr io.Writer) error {
	log, closer, err := logging.New(logging.Options{File: f.logFile, Name: "agent", Level: f.logLevel})
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer closer.Close()
	logPath := f.logFile
	if r, ok := closer.(*logging.Rotating); ok {
		logPath = r.Path()
	}
	self, err := peercred.Current()
	if err != nil {
		return fmt.Errorf("find the current user: %w", err)
	}
	domains, err := newDomainSource(f.domains, log)
	if err != nil {
		return err
	}
	var reg *portservice.Registration
	var lns []net.Listener
	if f.listen != "" {
		if lns, err = localhttp.Listen(f.listen); err != nil {
			return err
		}
	} else {
		// Registered mode: the port service gives this user's port. Fail
		// now, before anything runs, if it cannot.
		if reg, err = portservice.Register(ctx, f.portService, self); err != nil {
			if se := (*portservice.ServiceError)(nil); errors.As(err, &se) && errors.Is(err, portservice.ErrAlreadyRunning) {
				return fmt.Errorf("%w (%s)", portservice.ErrAlreadyRunning, se.Message)
			}
			return fmt.Errorf("%w\n(start cardbridge-portservice, or run standalone with --listen 127.0.0.1:%d)", err, StandalonePort)
		}
		defer func() { reg.Close() }()
		domains.fromService(reg.Domains)
		if lns, err = bindRegistered(ctx, reg, reg.Port, log); err != nil {
			return err
		}
	}

	mon := pcsc.NewMonitor(pcsc.MonitorOptions{Logger: &log})
	core := agent.New(agent.Options{Monitor: mon, Logger: log, PINPrompt: pinPrompt(f.pinentry, log)})
	connected := atomic.Bool{}
	connected.Store(reg != nil)
	srv := httpapi.New(httpapi.Options{Backend: core, Domains: domains.get, Self: self, Logger: log, LogFile: logPath, PortService: connected.Load})
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
	if canReexec && f.upgradeCheck > 0 {
		if w := newExeWatch(log); w != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if up, ok := w.wait(ctx, f.upgradeCheck, core.StopSigning); ok {
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
			return nil, fmt.Errorf("%w: %v", cardinfo.ErrPINCancelled, err)
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
func serveRegistered(ctx context.Context, f agentFlags, self peercred.User, reg *portservice.Registration, lns []net.Listener, srv *httpapi.Server, domains *domainSource, connected *atomic.Bool, log zerolog.Logger) error {
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
				nr, err := portservice.Register(ctx, f.portService, self)
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

// maxDomainsFile bounds a --domains file: a larger one is refused.
const maxDomainsFile = 1 << 20

// domainSource holds the DomainList in force and reloads a --domains file
// when it changes.
type domainSource struct {
	path     string
	log      zerolog.Logger
	cur      atomic.Pointer[localhttp.DomainInfo]
	onChange atomic.Pointer[func()] // told after a new list is in force
	mod      time.Time              // the file's time and size when last loaded or tried
	size     int64
}

func newDomainSource(path string, log zerolog.Logger) (*domainSource, error) {
	d := &domainSource{path: path, log: log}
	if path == "" {
		d.cur.Store(&localhttp.DomainInfo{List: domainlist.Builtin(), Source: "builtin"})
		return d, nil
	}
	if st, err := os.Lstat(path); err == nil {
		d.mod, d.size = st.ModTime(), st.Size()
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *domainSource) get() localhttp.DomainInfo { return *d.cur.Load() }

// set puts info in force and tells onChange.
func (d *domainSource) set(info *localhttp.DomainInfo) {
	d.cur.Store(info)
	if f := d.onChange.Load(); f != nil {
		(*f)()
	}
}

// fromService puts the port service's DomainList in force, unless a
// --domains file overrides it.
func (d *domainSource) fromService(text string) {
	if d.path != "" {
		return
	}
	list, bad := domainlist.Parse([]byte(text))
	for _, e := range bad {
		d.log.Warn().Int("line", e.Line).Str("reason", e.Reason()).Msg("skipping a bad line of the port service's DomainList")
	}
	d.set(&localhttp.DomainInfo{List: list, Source: "portservice"})
	d.log.Info().Str("version", list.Version()).Int("entries", list.Len()).Msg("DomainList from the port service")
}

// load reads the file, which must be a regular file of at most 1 MiB (it is
// never followed if a symbolic link, nor waited on if a named pipe); bad lines
// are logged by number and reason and skipped.
func (d *domainSource) load() error {
	data, err := atomicfile.ReadRegular(d.path, maxDomainsFile)
	if err != nil {
		return fmt.Errorf("load --domains: %w", err)
	}
	list, bad := domainlist.Parse(data)
	for _, e := range bad {
		d.log.Warn().Str("file", d.path).Int("line", e.Line).Str("reason", e.Reason()).Msg("skipping a bad DomainList line")
	}
	d.set(&localhttp.DomainInfo{List: list, Source: "file:" + d.path})
	d.log.Info().Str("file", d.path).Str("version", list.Version()).Int("entries", list.Len()).Msg("DomainList loaded")
	return nil
}

// watch reloads the file when its size or time changes, until ctx ends. A
// file that disappears, cannot be read, is not a regular file or is too large
// keeps the list in force, logged once per change; no read ever blocks, so
// watch returns as soon as ctx ends.
func (d *domainSource) watch(ctx context.Context) {
	if d.path == "" {
		return
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Lstat(d.path)
		if err != nil || (st.ModTime().Equal(d.mod) && st.Size() == d.size) {
			continue
		}
		d.mod, d.size = st.ModTime(), st.Size()
		if err := d.load(); err != nil {
			d.log.Warn().Err(err).Str("file", d.path).Msg("keeping the DomainList in force")
		}
	}
}
