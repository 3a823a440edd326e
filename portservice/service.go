package portservice

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
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
	"github.com/cardbridge/cardbridge/portservice/localsock"
	"github.com/cardbridge/cardbridge/portservice/portstore"
	"github.com/cardbridge/cardbridge/portservice/trusted"
	"github.com/cardbridge/cardbridge/version"
)

// DefaultPorts are the well-known ports pages try, in order; the service
// listens on the first free one. They are NHS Port Service's.
var DefaultPorts = []int{43487, 44213, 45031, 46478, 48853}

// Default per-user port range.
const (
	DefaultLo = 55000
	DefaultHi = 55999
)

// Options configures the port service.
type Options struct {
	StateDir   string // PortStore.txt and DomainList.txt
	Ports      []int  // well-known ports (DefaultPorts)
	Lo, Hi     int    // per-user range (DefaultLo-DefaultHi)
	Socket     string // the agents' local socket (localsock.DefaultPath)
	TrustedURL string // where to refresh the DomainList from; "" for none
	Logger     zerolog.Logger
	// ExpireAfter frees the port of a user not seen for this long
	// (30 days when zero), so a user who comes back within it keeps the port.
	ExpireAfter time.Duration

	// Tests replace these: who listens on a port, who owns sockets on a
	// port, on the ports of the range, whether a port can be bound, and a
	// port the OS chooses.
	listeners    func(port uint16) ([]peercred.User, error)
	portUsers    func(port uint16) ([]peercred.User, error)
	boundSockets func(lo, hi uint16) ([]peercred.Bound, error)
	canBind      func(port int) error
	freePort     func() (int, error)
	now          func() time.Time
}

// Service is a running port service.
type Service struct {
	opt   Options
	log   zerolog.Logger
	store *portstore.Store

	domains   atomic.Pointer[domainlist.List]
	updated   atomic.Int64 // when the list in force was saved or put in force, Unix nanoseconds
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

// registration is one live agent.
type registration struct {
	user peercred.User
	pid  int
	conn *localsock.Conn

	sendMu sync.Mutex // one message at a time on conn
	moveMu sync.Mutex // one squatting check and move at a time

	mu        sync.Mutex
	port      int
	listening bool
	changed   chan struct{} // closed and replaced when port or listening change
}

// send sends m to the agent.
func (r *registration) send(m Message) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	return r.conn.Send(m, messageTimeout)
}

func (r *registration) state() (port int, listening bool, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.port, r.listening, r.changed
}

func (r *registration) set(port int, listening bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.port, r.listening = port, listening
	close(r.changed)
	r.changed = make(chan struct{})
}

// New opens the service's state. It fails only when the state directory
// cannot be used at all; bad file contents are repaired and logged.
func New(opt Options) (*Service, error) {
	if len(opt.Ports) == 0 {
		opt.Ports = DefaultPorts
	}
	if opt.Lo == 0 && opt.Hi == 0 {
		opt.Lo, opt.Hi = DefaultLo, DefaultHi
	}
	if opt.Lo < 1024 || opt.Hi > 65535 || opt.Lo > opt.Hi {
		return nil, fmt.Errorf("port range %d-%d: want 1024 <= LO <= HI <= 65535", opt.Lo, opt.Hi)
	}
	for _, p := range opt.Ports {
		if p >= opt.Lo && p <= opt.Hi {
			return nil, fmt.Errorf("well-known port %d lies inside the per-user range %d-%d", p, opt.Lo, opt.Hi)
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
	if opt.portUsers == nil {
		opt.portUsers = peercred.PortUsers
	}
	if opt.boundSockets == nil {
		opt.boundSockets = peercred.BoundSockets
	}
	if opt.canBind == nil {
		opt.canBind = localhttp.CanBind
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
	store, err := portstore.Open(portstore.Options{Path: filepath.Join(opt.StateDir, "PortStore.txt"), Lo: opt.Lo, Hi: opt.Hi, Logger: s.log})
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

func (s *Service) domainsPath() string { return filepath.Join(s.opt.StateDir, "DomainList.txt") }

// setDomains puts a new DomainList in force, saves it and sends it to every
// agent.
func (s *Service) setDomains(list *domainlist.List, raw []byte) {
	s.domains.Store(list)
	s.updated.Store(time.Now().UnixNano())
	writeDomains(s.domainsPath(), list, s.log)
	msg := Message{Type: MsgDomainList, DomainList: string(list.Format()), DomainListVersion: list.Version()}
	for _, r := range s.liveRegs() {
		if err := r.send(msg); err != nil {
			s.log.Warn().Err(err).Str("user", r.user.ID).Msg("cannot send the DomainList to an agent")
		}
	}
}

func (s *Service) liveRegs() []*registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*registration, 0, len(s.regs))
	for _, r := range s.regs {
		out = append(out, r)
	}
	return out
}

// Port is the well-known port being served (0 before Run listens).
func (s *Service) Port() int { return int(s.httpPort.Load()) }

// Run serves pages and agents until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	lns, served, held := listenWellKnown(s.opt.Ports)
	if len(served) == 0 {
		return fmt.Errorf("every well-known port is taken: %w", errors.Join(held...))
	}
	s.httpPort.Store(int32(served[0]))
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
	s.log.Info().Int("port", port).Str("socket", s.opt.Socket).Str("state", s.opt.StateDir).Int("users", s.store.Len()).Msg("port service started")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.acceptAgents(ctx, sock) }()
	go func() { defer wg.Done(); s.maintain(ctx) }()
	if s.refresher != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.refresher.Run(ctx) }()
	}
	guard := localhttp.NewGuard(localhttp.GuardOptions{
		Domains: func() localhttp.DomainInfo {
			return localhttp.DomainInfo{List: s.domains.Load(), Source: "file:" + s.domainsPath()}
		},
		Logger:          s.log,
		MaxConnsPerUser: MaxConnsPerUser,
		IdleTimeout:     IdleTimeout,
	})
	routes := s.routes()
	if len(held) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.reclaim(ctx, routes, guard) }()
	}
	err = guard.Serve(ctx, routes, localhttp.ServeOptions{}, lns...)
	cancel()
	sock.Close()
	for _, r := range s.liveRegs() {
		r.conn.Close()
	}
	wg.Wait()
	s.agents.Wait()
	if ferr := s.store.Flush(); ferr != nil {
		s.log.Error().Err(ferr).Msg("saving PortStore")
	}
	s.log.Info().Msg("port service stopped")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// listenWellKnown listens on loopback (IPv4 and, where there is one, IPv6)
// on every well-known port it can, so that no other local user can answer
// a page's discovery on one of them. It returns the listeners, the ports
// they serve, and an error for each port it could not take.
func listenWellKnown(ports []int) (lns []net.Listener, served []int, held []error) {
	for _, p := range ports {
		l, err := localhttp.Listen("localhost:" + strconv.Itoa(p))
		if err != nil {
			held = append(held, fmt.Errorf("well-known port %d: %w", p, err))
			continue
		}
		lns = append(lns, l...)
		served = append(served, p)
	}
	return lns, served, held
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
		lns, got, _ := listenWellKnown(missing)
		if len(got) == 0 {
			continue
		}
		s.setServed(append(served, got...))
		s.log.Warn().Ints("ports", got).Msg("took the well-known ports that had been held by another program")
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.Serve(ctx, h, localhttp.ServeOptions{}, lns...) }()
	}
}

// SessionEvent is a user session logging on or off (Windows terminal
// services).
type SessionEvent struct {
	Session  uint32
	LoggedOn bool
}

// SessionChanged notes a session event. A user's agent ends with their
// session and its registration with it; the user keeps the port (it is freed
// only after ExpireAfter without the user), so the last-seen times are saved
// now.
func (s *Service) SessionChanged(ev SessionEvent) {
	what := "logged off"
	if ev.LoggedOn {
		what = "logged on"
	}
	s.log.Info().Uint32("session", ev.Session).Msg("user session " + what)
	for _, r := range s.liveRegs() {
		s.store.Touch(r.user.ID)
	}
	go func() {
		if err := s.store.Flush(); err != nil {
			s.log.Error().Err(err).Msg("saving PortStore")
		}
	}()
}

// maintain saves last-seen times and frees ports of long-gone users.
func (s *Service) maintain(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	lastExpire := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, r := range s.liveRegs() {
			s.store.Touch(r.user.ID)
		}
		if err := s.store.Flush(); err != nil {
			s.log.Error().Err(err).Msg("saving PortStore")
		}
		s.checkHolders()
		if time.Since(lastExpire) > 6*time.Hour {
			lastExpire = time.Now()
			for _, e := range s.store.Expire(s.opt.ExpireAfter) {
				s.log.Info().Str("user", e.User).Int("port", e.Port).Time("lastSeen", e.LastSeen).Msg("freed the port of a user gone a long while")
			}
		}
	}
}

// routes are the pages' endpoints, behind the guard.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /PRS/GetPortNumber", s.handleGetPortNumber)
	mux.HandleFunc("GET /PRS/ConnectPRService", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.ConnectAnswer{StatusCode: http.StatusOK})
	})
	mux.HandleFunc("GET /api/versioninfo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.VersionInfo())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: api.Error{Code: api.CodeBadRequest, Message: "no such endpoint: " + r.Method + " " + r.URL.Path}})
	})
	return mux
}

// VersionInfo describes the service for /api/versioninfo and doctor.
func (s *Service) VersionInfo() api.VersionInfo {
	v := version.Get()
	list := s.domains.Load()
	updated := time.Unix(0, s.updated.Load()).UTC()
	vi := api.VersionInfo{
		Product: "cardbridge-portservice", Version: v.Version, Commit: v.Commit, API: api.APIVersion,
		OS: runtime.GOOS, Arch: runtime.GOARCH, Port: s.Port(),
		PortService: api.PortServiceInfo{Connected: true},
		DomainList:  api.DomainListInfo{Version: list.Version(), Source: "file:" + s.domainsPath(), Entries: list.Entries(), Updated: &updated},
		TrustedURL:  api.TrustedURLInfo{URL: s.opt.TrustedURL},
		PortRange:   s.portRangeInfo(),
	}
	if s.refresher != nil {
		st := s.refresher.Status()
		vi.TrustedURL.LatestVersion = st.LatestVersion
		vi.TrustedURL.DomainListVersion = st.DomainListVersion
		vi.TrustedURL.UpdateAvailable = st.UpdateAvailable(v.Version)
		if !st.Checked.IsZero() {
			t := st.Checked
			vi.TrustedURL.Checked = &t
		}
		if !st.LastSuccess.IsZero() {
			t := st.LastSuccess.UTC()
			vi.TrustedURL.LastSuccess = &t
		}
		if st.Err != nil {
			vi.TrustedURL.Error = st.Err.Error()
		}
	}
	return vi
}

// Every user on the host calls the port service, so no one user may hold
// more than MaxConnsPerUser connections to it at once (a page asks the five
// well-known ports; a user's browsers keep a few of each), and keep-alive
// connections idle for IdleTimeout are closed (a page asks once).
const (
	MaxConnsPerUser = 64
	IdleTimeout     = 10 * time.Second
)

// fault is the NHS Port Service's answer when the caller has no agent, in
// both casings NHS clients read.
var fault = func() []byte {
	b, _ := json.Marshal(api.NewPortFault(api.FaultNoAgent, "Unable to find CM process for user"))
	return append(b, '\n')
}()

// portAnswerWait bounds how long GetPortNumber waits for an agent that is
// moving to a new port.
const portAnswerWait = 3 * time.Second

// handleGetPortNumber answers the calling user's agent port, found from
// the OS owner of the page's TCP connection.
func (s *Service) handleGetPortNumber(w http.ResponseWriter, r *http.Request) {
	user, err := localhttp.PeerUser(r)
	if err != nil {
		s.log.Warn().Err(err).Str("remote", r.RemoteAddr).Msg("GetPortNumber: cannot tell who is calling")
		writeRaw(w, fault)
		return
	}
	port, err := s.portFor(r.Context(), user)
	if err != nil {
		s.log.Info().Str("user", user.ID).Err(err).Msg("GetPortNumber: no agent for this user")
		writeRaw(w, fault)
		return
	}
	writeJSON(w, api.NewPortNumber(port))
}

// errNoAgent means the user has no live agent serving its port.
var errNoAgent = errors.New("no agent listening for this user")

// portFor returns user's live agent port after checking that nobody else
// listens on it; a squatted port is reallocated and the agent moved.
func (s *Service) portFor(ctx context.Context, user peercred.User) (int, error) {
	s.mu.Lock()
	reg := s.regs[user.ID]
	s.mu.Unlock()
	if reg == nil {
		return 0, errNoAgent
	}
	deadline := time.NewTimer(portAnswerWait)
	defer deadline.Stop()
	for {
		port, listening, changed := reg.state()
		if listening {
			reg.moveMu.Lock()
			port, err := s.checkPort(reg, port)
			reg.moveMu.Unlock()
			if err != nil || port != 0 {
				return port, err
			}
			continue // moved; wait for the agent on its new port
		}
		select {
		case <-changed:
		case <-deadline.C:
			return 0, errNoAgent
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// checkPort returns port if only reg's user listens on it. If another user
// holds it, the event is logged as a security warning, the user gets a new
// port and the agent is told to move; checkPort then returns 0.
func (s *Service) checkPort(reg *registration, port int) (int, error) {
	if cur, listening, _ := reg.state(); cur != port || !listening {
		return 0, nil // moved meanwhile
	}
	squatter, err := s.squatter(reg.user, port)
	switch {
	case err != nil:
		return 0, err
	case squatter == nil:
		return port, nil
	}
	s.log.Warn().Str("event", "port-squatted").Str("user", reg.user.ID).Int("port", port).Str("squatter", squatter.ID).
		Msg("security: another user holds this user's port; moving the user's agent")
	s.remember(port, "held by "+squatter.ID)
	return 0, s.move(reg, port)
}

// squatter returns a user, other than user, listening on port on loopback
// (IPv4 or IPv6), where a page's connection would reach it; nil when only
// user does, and errNoAgent when user does not. It runs on every
// GetPortNumber, so it asks only about listeners, which the kernel finds
// without walking every connection; client sockets on a port count when a
// port is handed out (unusable).
func (s *Service) squatter(user peercred.User, port int) (*peercred.User, error) {
	users, err := s.opt.listeners(uint16(port))
	if err != nil {
		return nil, fmt.Errorf("check who listens on port %d: %w", port, err)
	}
	found := false
	for _, u := range users {
		if u != user {
			return &u, nil
		}
		found = true
	}
	if !found {
		return nil, errNoAgent // the agent is gone or not listening yet
	}
	return nil, nil
}

// listenersOn returns the owners of the sockets listening on 127.0.0.1:port
// and [::1]:port.
func listenersOn(port uint16) ([]peercred.User, error) {
	var users []peercred.User
	for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()} {
		l, err := peercred.FindListener(netip.AddrPortFrom(a, port))
		if errors.Is(err, peercred.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		users = append(users, l.Owner)
	}
	return users, nil
}

// wellKnown reports whether port is one of the well-known ports.
func (s *Service) wellKnown(port int) bool {
	return slices.Contains(s.opt.Ports, port)
}

// remember skips port in allocations and moves for the next failedFor, and
// logs it the first time.
func (s *Service) remember(port int, why string) {
	if s.failed.add(port) {
		s.log.Warn().Str("event", "port-unusable").Int("port", port).Str("reason", why).Dur("skippedFor", failedFor).
			Msg("a port cannot be used; skipping it in allocations for a while")
	}
}

// unusable says whether port cannot be given to user, whose port is now
// current (0 for none): it is well-known, it failed lately, another user owns
// a socket on it, or, unless it is current, it cannot be bound. Every
// failure is remembered.
func (s *Service) unusable(user peercred.User, current int) func(int) bool {
	return func(port int) bool {
		if s.wellKnown(port) || s.failed.has(port) {
			return true
		}
		users, err := s.opt.portUsers(uint16(port))
		if err != nil && !errors.Is(err, peercred.ErrUnsupported) {
			s.log.Debug().Err(err).Int("port", port).Msg("cannot tell who holds a port; test-binding it alone")
		}
		for _, u := range users {
			if u != user {
				s.remember(port, "held by "+u.ID)
				return true
			}
		}
		if port == current {
			// The user's own port is kept across restarts without a
			// test-bind: a socket of no user's (TIME_WAIT) or the user's
			// own agent restarting in place may hold it for a moment. An
			// agent that cannot bind it says so and is moved.
			return false
		}
		if err := s.opt.canBind(port); err != nil {
			s.remember(port, err.Error())
			return true
		}
		return false
	}
}

// allocate returns user's port (see portstore.Store.Allocate), or when every
// port of the range is unusable, one outside it.
func (s *Service) allocate(user peercred.User) (portstore.Entry, error) {
	cur, _ := s.store.Lookup(user.ID)
	e, err := s.store.Allocate(user.ID, s.unusable(user, cur.Port))
	if errors.Is(err, portstore.ErrFull) {
		return s.allocateOutside(user, 0, err)
	}
	return e, err
}

// outsideTries bounds how many ports the OS is asked for when the range is
// exhausted.
const outsideTries = 20

// allocateOutside gives user a port outside the range, other than old, that
// the OS chooses as free on both loopback addresses, and logs it; full is why
// the range could not serve.
func (s *Service) allocateOutside(user peercred.User, old int, full error) (portstore.Entry, error) {
	for range outsideTries {
		port, err := s.opt.freePort()
		if err != nil {
			return portstore.Entry{}, fmt.Errorf("allocate a port outside the range for %s: %w (after: %w)", user.ID, err, full)
		}
		if port == old || (port >= s.opt.Lo && port <= s.opt.Hi) || port < portstore.MinOutside || s.wellKnown(port) || s.failed.has(port) {
			continue
		}
		e, err := s.store.AllocateOutside(user.ID, port)
		if errors.Is(err, portstore.ErrTaken) {
			continue
		}
		if err != nil {
			return portstore.Entry{}, err
		}
		s.log.Warn().Str("event", "range-exhausted").Str("user", user.ID).Int("port", port).Int("lo", s.opt.Lo).Int("hi", s.opt.Hi).
			Int("unusable", s.failed.len()).Msg("every port of the range is unusable; the user gets a port outside it")
		go s.checkHolders()
		return e, nil
	}
	return portstore.Entry{}, fmt.Errorf("allocate a port outside the range for %s: the OS gave no usable port in %d tries: %w", user.ID, outsideTries, full)
}

// move gives reg's user a new port instead of old, which is remembered as
// failed, and tells the agent.
func (s *Service) move(reg *registration, old int) error {
	unusable := s.unusable(reg.user, 0)
	e, err := s.store.Reallocate(reg.user.ID, func(p int) bool { return p == old || unusable(p) })
	if errors.Is(err, portstore.ErrFull) {
		e, err = s.allocateOutside(reg.user, old, err)
	}
	if err != nil {
		return fmt.Errorf("reallocate the port of %s: %w", reg.user.ID, err)
	}
	reg.set(e.Port, false)
	s.log.Info().Str("user", reg.user.ID).Int("from", old).Int("to", e.Port).Msg("moving an agent to a new port")
	return reg.send(Message{Type: MsgMove, Port: e.Port})
}

// holderLimit is how many ports of the range, besides their own, one user may
// hold before the service warns about them.
const holderLimit = 4

// checkHolders finds the users holding more than holderLimit ports of the
// range besides their own, keeps them for versioninfo and doctor, and logs
// each when first found or when their count grows.
func (s *Service) checkHolders() {
	bs, err := s.opt.boundSockets(uint16(s.opt.Lo), uint16(s.opt.Hi))
	if err != nil {
		if !errors.Is(err, peercred.ErrUnsupported) {
			s.log.Debug().Err(err).Msg("cannot list the sockets on the range")
		}
		return
	}
	ports := map[peercred.User]map[uint16]bool{}
	for _, b := range bs {
		if e, ok := s.store.Lookup(b.Owner.ID); ok && e.Port == int(b.Addr.Port()) {
			continue // the user's own port
		}
		if ports[b.Owner] == nil {
			ports[b.Owner] = map[uint16]bool{}
		}
		ports[b.Owner][b.Addr.Port()] = true
	}
	holders := []api.PortHolder{}
	for u, ps := range ports {
		if len(ps) > holderLimit {
			holders = append(holders, api.PortHolder{User: u.ID, Ports: len(ps)})
		}
	}
	slices.SortFunc(holders, func(a, b api.PortHolder) int {
		return cmp.Or(cmp.Compare(b.Ports, a.Ports), cmp.Compare(a.User, b.User))
	})
	s.holders.Store(&holders)

	s.warnedMu.Lock()
	defer s.warnedMu.Unlock()
	now := map[string]int{}
	for _, h := range holders {
		now[h.User] = h.Ports
		if h.Ports > s.warned[h.User] {
			s.log.Warn().Str("event", "range-ports-held").Str("holder", h.User).Int("ports", h.Ports).Int("lo", s.opt.Lo).Int("hi", s.opt.Hi).
				Msg("security: one user holds many ports of the per-user range, which leaves fewer for everyone else")
		} else {
			now[h.User] = s.warned[h.User]
		}
	}
	s.warned = now
}

// portRangeInfo describes the range for versioninfo.
func (s *Service) portRangeInfo() *api.PortRangeInfo {
	info := &api.PortRangeInfo{Lo: s.opt.Lo, Hi: s.opt.Hi, Unusable: s.failed.len()}
	if h := s.holders.Load(); h != nil {
		info.Holders = *h
	}
	for _, e := range s.store.Entries() {
		if e.Port < s.opt.Lo || e.Port > s.opt.Hi {
			info.Outside++
		}
	}
	return info
}

// acceptAgents serves agent registrations until ctx ends.
func (s *Service) acceptAgents(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn().Err(err).Msg("accepting an agent")
			time.Sleep(100 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.serveAgent(ctx, c) }()
	}
}

// serveAgent handles one agent's registration for as long as it lasts.
func (s *Service) serveAgent(ctx context.Context, nc net.Conn) {
	c := localsock.NewConn(nc)
	reg := s.register(c, nc)
	if reg == nil {
		c.Close()
		return
	}
	// The registration lives on in a goroutine of its own, started small:
	// a host may hold a thousand idle agents, each waiting here.
	s.agents.Add(1)
	go func() {
		defer s.agents.Done()
		s.followAgent(reg)
	}()
}

// register handles an agent's register message and returns its live
// registration, or nil when it was refused (the agent has been told why).
func (s *Service) register(c *localsock.Conn, nc net.Conn) *registration {
	user, err := localsock.PeerUser(nc)
	if err != nil {
		s.log.Warn().Err(err).Msg("refusing an agent whose user the OS cannot tell")
		return nil
	}
	pid, _ := localsock.PeerPID(nc)
	log := s.log.With().Str("user", user.ID).Int("pid", pid).Logger()
	var m Message
	if err := c.Recv(&m, messageTimeout); err != nil || m.Type != MsgRegister {
		log.Warn().Err(err).Str("type", m.Type).Msg("refusing an agent that did not register")
		_ = c.Send(Message{Type: MsgError, Code: CodeBadRequest, Message: "expected a register message"}, messageTimeout)
		return nil
	}
	if m.User != "" && m.User != user.ID {
		log.Warn().Str("event", "wrong-user-registration").Str("claimed", m.User).Msg("security: a process tried to register for another user")
		_ = c.Send(Message{Type: MsgError, Code: CodeWrongUser, Message: "you may only register for yourself (" + user.ID + ")"}, messageTimeout)
		return nil
	}
	reg := &registration{user: user, pid: pid, conn: c, changed: make(chan struct{})}
	s.mu.Lock()
	other := s.regs[user.ID]
	if other != nil && (pid == 0 || other.pid != pid) {
		s.mu.Unlock()
		log.Info().Int("runningPID", other.pid).Msg("refusing a second agent for this user")
		_ = c.Send(Message{Type: MsgError, Code: CodeAlreadyRunning, Message: fmt.Sprintf("an agent for %s is running already (pid %d)", user.ID, other.pid)}, messageTimeout)
		return nil
	}
	s.regs[user.ID] = reg
	s.mu.Unlock()
	if other != nil {
		// The registered process registers again: it has restarted itself
		// onto an upgraded binary (same process, new image) faster than
		// its old connection's end reached us. The old registration is
		// stale; its follower ends without touching the new one.
		log.Info().Msg("the agent registers again from the same process; replacing its old registration")
		other.conn.Close()
	}
	ok := false
	defer func() {
		if !ok {
			s.unregister(reg)
		}
	}()
	if old, found := s.store.Lookup(user.ID); found {
		if sq, _ := s.squatter(user, old.Port); sq != nil {
			log.Warn().Str("event", "port-squatted").Int("port", old.Port).Str("squatter", sq.ID).
				Msg("security: another user holds this user's port; giving the user a new one")
		}
	}
	e, err := s.allocate(user)
	if err != nil {
		log.Error().Err(err).Msg("cannot give the agent a port")
		_ = reg.send(Message{Type: MsgError, Code: CodeNoPort, Message: err.Error()})
		return nil
	}
	reg.set(e.Port, false)
	list := s.domains.Load()
	if err := reg.send(Message{Type: MsgRegistered, Port: e.Port, DomainList: string(list.Format()), DomainListVersion: list.Version()}); err != nil {
		log.Warn().Err(err).Msg("agent went before its registration was answered")
		return nil
	}
	log.Info().Int("port", e.Port).Str("agentVersion", m.Version).Msg("agent registered")
	ok = true
	return reg
}

// unregister forgets a registration that ended.
func (s *Service) unregister(reg *registration) {
	s.mu.Lock()
	if s.regs[reg.user.ID] == reg {
		delete(s.regs, reg.user.ID)
	}
	s.mu.Unlock()
	s.store.Touch(reg.user.ID)
	reg.conn.Close()
}

// followAgent reads an agent's messages until its connection ends.
func (s *Service) followAgent(reg *registration) {
	defer func() {
		s.unregister(reg)
		s.log.Info().Str("user", reg.user.ID).Int("pid", reg.pid).Msg("agent gone")
	}()
	for {
		// A host may hold a thousand agents that send a message or two a
		// day, so this goroutine waits with a shallow stack (2 KB) and
		// decodes and acts on each message on a short-lived goroutine:
		// JSON decoding and logging would grow the stack it keeps parked.
		if err := reg.conn.Wait(0); err != nil {
			return
		}
		ok := make(chan bool, 1)
		go func() {
			var m Message
			if err := reg.conn.Recv(&m, 0); err != nil {
				ok <- false
				return
			}
			s.agentMessage(reg, m)
			ok <- true
		}()
		if !<-ok {
			return
		}
	}
}

// agentMessage acts on one message from a registered agent.
func (s *Service) agentMessage(reg *registration, m Message) {
	log := s.log.With().Str("user", reg.user.ID).Int("pid", reg.pid).Logger()
	switch m.Type {
	case MsgListening:
		port, _, _ := reg.state()
		if m.Port != port {
			log.Warn().Int("port", m.Port).Int("assigned", port).Msg("agent listens on a port it was not given")
			return
		}
		reg.set(port, true)
		log.Debug().Int("port", port).Msg("agent listening")
	case MsgBindFailed:
		log.Warn().Int("port", m.Port).Msg("agent could not bind its port")
		if port, _, _ := reg.state(); m.Port == port {
			s.remember(m.Port, "the agent of "+reg.user.ID+" could not bind it")
		}
		reg.moveMu.Lock()
		err := s.move(reg, m.Port)
		reg.moveMu.Unlock()
		if err != nil {
			log.Error().Err(err).Msg("cannot move the agent")
			_ = reg.send(Message{Type: MsgError, Code: CodeNoPort, Message: err.Error()})
		}
	default:
		log.Debug().Str("type", m.Type).Msg("ignoring an agent message")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
