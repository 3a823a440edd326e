// Package server is cardbridge-portservice, the port broker system service
// for multi-session hosts (Citrix, RDS, fast user switching), the equivalent
// of the NHS Port Service. It gives every user's agent a port of its own from
// a range, remembers it across restarts (PortStore.txt, package portstore),
// tells web pages which port is theirs (GET /PRS/GetPortNumber, answered from
// the OS owner of the page's TCP connection), checks that nobody else squats
// a user's port, and keeps the host's DomainList (DomainList.txt, refreshed
// from a trusted URL by package trusted) for every agent.
//
// Agents register over a local socket (package localsock) with the messages
// of package portservice. The files follow the service's concerns:
// service.go its lifecycle and listeners, http.go the pages' endpoints,
// register.go the agents' registrations, alloc.go squatting checks and port
// allocation, maintain.go periodic upkeep and session events, domains.go the
// DomainList file.
package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/policy"
	"github.com/cardbridge/cardbridge/portservice"
	"github.com/cardbridge/cardbridge/portservice/localsock"
	"github.com/cardbridge/cardbridge/portservice/portstore"
	"github.com/cardbridge/cardbridge/portservice/trusted"
)

// Options configures the port service.
type Options struct {
	StateDir   string            // PortStore.txt and DomainList.txt
	Ports      []int             // well-known ports (portservice.DefaultPorts)
	Range      portservice.Range // per-user range (portservice.DefaultRange when zero)
	Socket     string            // the agents' local socket (localsock.DefaultPath)
	TrustedURL string            // where to refresh the DomainList from; "" for none
	// DomainListSeed is the DomainList to start with when the state
	// directory has none (domainlist.ParseSeed; nil: the built-in one).
	DomainListSeed *domainlist.List
	Logger         zerolog.Logger
	// Settings are the service's settings and where each came from, and
	// PolicyProblems what was wrong with the administrator's policies: for
	// /api/versioninfo.
	Settings       []api.Setting
	PolicyProblems []string
	// ExpireAfter frees the port of a user not seen for this long
	// (30 days when zero), so a user who comes back within it keeps the port.
	ExpireAfter time.Duration

	// Tests replace these: who listens on a port, who owns sockets on a
	// span of ports (the range, or the one port an agent could not bind),
	// whether a port can be bound, and a port the OS chooses.
	listeners    func(port uint16) ([]peercred.User, error)
	boundSockets func(lo, hi uint16) ([]peercred.Bound, error)
	canBind      func(port int) error
	freePort     func() (int, error)
	now          func() time.Time
	policies     func() *policy.Set                             // the administrator's policies (policy.Load when nil)
	policyWatch  func(context.Context) (<-chan struct{}, error) // tells of their changes (the platform's when nil)
	policyEvery  time.Duration                                  // how often they are read where nothing tells (policy.FollowEvery when zero)
	// peerOwner finds who is at the other end of a page's connection
	// (nil: the OS says).
	peerOwner func(net.Conn) (peercred.User, error)
	// handoff keeps the well-known ports' sockets across restarts (the
	// platform's service manager when nil; see handoff.go).
	handoff handoff
}

// Service is a running port service.
type Service struct {
	opt   Options
	log   zerolog.Logger
	store *portstore.Store

	domains   atomic.Pointer[domainlist.List]      // DomainList.txt's
	imposed   atomic.Pointer[localhttp.DomainInfo] // a policy's, in force over it; nil when none
	policy    *policy.Follower                     // follows the policies' DomainList
	updated   atomic.Int64                         // when the list in force was saved or put in force, Unix nanoseconds
	refresher *trusted.Refresher
	httpPort  atomic.Int32

	mu     sync.Mutex
	regs   map[string]*registration // live agents by user id
	served []int                    // well-known ports being served
	agents sync.WaitGroup           // followAgent goroutines

	failed   *failedPorts                     // ports skipped for now
	holders  atomic.Pointer[[]api.PortHolder] // users crowding the range, as last found
	warnedMu sync.Mutex                       // guards warned
	warned   map[string]int                   // holders already logged, with the count logged
}

// New opens the service's state. It fails only when the state directory
// cannot be used at all; bad file contents are repaired and logged.
func New(opt Options) (*Service, error) {
	if len(opt.Ports) == 0 {
		opt.Ports = portservice.DefaultPorts
	}
	var err error
	if opt.Range, err = opt.Range.OrDefault(); err != nil {
		return nil, err
	}
	for _, p := range opt.Ports {
		if opt.Range.Contains(p) {
			return nil, fmt.Errorf("well-known port %d lies inside the per-user range %s", p, opt.Range)
		}
	}
	if opt.Socket == "" {
		opt.Socket = localsock.DefaultPath
	}
	if opt.ExpireAfter <= 0 {
		opt.ExpireAfter = 30 * 24 * time.Hour
	}
	if opt.listeners == nil {
		opt.listeners = listenersOn
	}
	if opt.boundSockets == nil {
		opt.boundSockets = peercred.BoundSockets
	}
	if opt.canBind == nil {
		opt.canBind = localhttp.CanBind
	}
	if opt.handoff == nil {
		opt.handoff = newHandoff()
	}
	if opt.freePort == nil {
		opt.freePort = localhttp.FreePort
	}
	if opt.now == nil {
		opt.now = time.Now
	}
	if err := os.MkdirAll(opt.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	s := &Service{
		opt:    opt,
		log:    opt.Logger.With().Str("component", "portservice").Logger(),
		regs:   map[string]*registration{},
		failed: newFailedPorts(failedFor, maxFailed, opt.now),
		warned: map[string]int{},
	}
	atomicfile.Cleanup(opt.StateDir, "PortStore.txt")
	atomicfile.Cleanup(opt.StateDir, "DomainList.txt")
	if err := seedDomains(s.domainsPath(), opt.DomainListSeed, s.log); err != nil {
		return nil, err
	}
	store, err := portstore.Open(portstore.Options{Path: filepath.Join(opt.StateDir, "PortStore.txt"), Range: opt.Range, Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.store = store
	s.domains.Store(loadDomains(s.domainsPath(), s.log))
	updated := time.Now()
	if st, err := os.Lstat(s.domainsPath()); err == nil {
		updated = st.ModTime()
	}
	s.updated.Store(updated.UnixNano())
	s.policy = &policy.Follower{Load: opt.policies, Watch: opt.policyWatch, Log: s.log, Every: opt.policyEvery}
	s.applyPolicy()
	if opt.TrustedURL != "" {
		s.refresher, err = trusted.New(trusted.Options{
			URL:     opt.TrustedURL,
			Logger:  s.log,
			Current: s.domains.Load,
			OnList:  s.setDomains,
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Port is the well-known port being served (0 before Run listens).
func (s *Service) Port() int { return int(s.httpPort.Load()) }

// Run serves pages and agents until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	kept := takeKept(s.opt.handoff, s.opt.Ports, s.log)
	lns, served, held := s.listenWellKnown(s.opt.Ports, kept)
	if err := anotherService(ctx, held); err != nil {
		for _, l := range lns {
			l.Close()
		}
		return err
	}
	if len(served) == 0 {
		return fmt.Errorf("every well-known port is taken: %w", errors.Join(held...))
	}
	s.setServed(served)
	for _, err := range held {
		s.logHeld(err)
	}
	port := served[0]
	sock, err := localsock.Listen(s.opt.Socket)
	if err != nil {
		for _, l := range lns {
			l.Close()
		}
		return fmt.Errorf("agent socket: %w", err)
	}
	// Port tells callers the service is up: only once agents can register.
	s.httpPort.Store(int32(served[0]))
	s.log.Info().Int("port", port).Str("socket", s.opt.Socket).Str("state", s.opt.StateDir).Int("users", s.store.Len()).
		Ints("keptPorts", slices.Sorted(maps.Keys(kept))).Msg("port service started")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.acceptAgents(ctx, sock) }()
	go func() { defer wg.Done(); s.maintain(ctx) }()
	go func() { defer wg.Done(); s.watchPolicy(ctx) }()
	if s.refresher != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.refresher.Run(ctx) }()
	}
	guard := localhttp.NewGuard(localhttp.GuardOptions{
		Domains:         s.inForce,
		PeerOwner:       s.opt.peerOwner,
		Logger:          s.log,
		MaxConnsPerUser: MaxConnsPerUser,
		IdleTimeout:     IdleTimeout,
	})
	routes := s.routes()
	if len(held) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.reclaim(ctx, routes, guard) }()
	}
	var stopping atomic.Int64 // when ctx ended, Unix nanoseconds
	context.AfterFunc(ctx, func() {
		stopping.Store(time.Now().UnixNano())
		s.log.Info().Msg("port service stopping")
	})
	err = guard.Serve(ctx, routes, localhttp.ServeOptions{}, lns...)
	cancel()
	pagesDone := time.Now()
	sock.Close()
	for _, r := range s.liveRegs() {
		r.conn.Close()
	}
	wg.Wait()
	s.agents.Wait()
	agentsDone := time.Now()
	if ferr := s.store.Flush(); ferr != nil {
		s.log.Error().Err(ferr).Msg("saving PortStore")
	}
	// How long each step of the stop took, for whoever wonders why a
	// restart was slow: the pages' requests under way, the agents'
	// connections and tasks, saving PortStore.txt.
	began := pagesDone // serving failed on its own
	if ns := stopping.Load(); ns != 0 && ns < pagesDone.UnixNano() {
		began = time.Unix(0, ns)
	}
	s.log.Info().Dur("pages", pagesDone.Sub(began)).Dur("agents", agentsDone.Sub(pagesDone)).Dur("save", time.Since(agentsDone)).
		Msg("port service stopped")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// listenWellKnown listens on loopback (IPv4 and, where there is one, IPv6)
// on every well-known port it can, so that no other local user can answer
// a page's discovery on one of them. A port whose sockets were kept from
// the last run (kept) is served on those; the sockets it opens are handed
// to the service manager to keep for the next. It returns the listeners,
// the ports they serve, and an error for each port it could not take.
func (s *Service) listenWellKnown(ports []int, kept keptListeners) (lns []net.Listener, served []int, held []error) {
	for _, p := range ports {
		if l := kept[p]; len(l) > 0 {
			lns = append(lns, l...)
			served = append(served, p)
			continue
		}
		l, err := localhttp.Listen("localhost:" + strconv.Itoa(p))
		if err != nil {
			held = append(held, &heldPortError{port: p, err: err})
			continue
		}
		keepListening(s.opt.handoff, p, l, s.log)
		lns = append(lns, l...)
		served = append(served, p)
	}
	return lns, served, held
}

// heldPortError is a well-known port the service could not listen on.
type heldPortError struct {
	port int
	err  error
}

func (e *heldPortError) Error() string { return fmt.Sprintf("well-known port %d: %v", e.port, e.err) }
func (e *heldPortError) Unwrap() error { return e.err }

// ErrAnotherService is Run's error when another cardbridge port service
// already serves one of the well-known ports: two would split the users
// between them.
var ErrAnotherService = errors.New("another cardbridge port service is already running")

// anotherService asks each held well-known port whether a cardbridge port
// service answers there, and returns ErrAnotherService, naming it, for the
// first that does.
func anotherService(ctx context.Context, held []error) error {
	for _, h := range held {
		var hp *heldPortError
		if !errors.As(h, &hp) {
			continue
		}
		if vi, ok := localhttp.WhoServes(ctx, hp.port); ok && vi.Product == "cardbridge-portservice" {
			return fmt.Errorf("%w: version %s answers on well-known port %d (%v); stop it before starting another, or give this one other --ports and --socket", ErrAnotherService, vi.Version, hp.port, hp.err)
		}
	}
	return nil
}

// logHeld reports a well-known port the service could not take: whoever
// holds it can answer pages' discovery in the service's place.
func (s *Service) logHeld(err error) {
	s.log.Error().Err(err).Msg("security: a well-known port is held by another program, which can answer pages in the port service's place; stop it (cardbridge doctor names it)")
}

// setServed records the well-known ports being served.
func (s *Service) setServed(ports []int) {
	s.mu.Lock()
	s.served = slices.Clone(ports)
	s.mu.Unlock()
}

// Served returns the well-known ports being served.
func (s *Service) Served() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.served)
}

// reclaimEvery is how often the service tries again to take the
// well-known ports it could not.
var reclaimEvery = time.Minute

// reclaim takes, when they come free, the well-known ports another program
// held at start, and serves them too, until ctx ends.
func (s *Service) reclaim(ctx context.Context, h http.Handler, g *localhttp.Guard) {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(reclaimEvery)
	defer t.Stop()
	for {
		served := s.Served()
		var missing []int
		for _, p := range s.opt.Ports {
			if !slices.Contains(served, p) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lns, got, _ := s.listenWellKnown(missing, nil)
		if len(got) == 0 {
			continue
		}
		s.setServed(append(served, got...))
		s.log.Warn().Ints("ports", got).Msg("took the well-known ports that had been held by another program")
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.Serve(ctx, h, localhttp.ServeOptions{}, lns...) }()
	}
}
