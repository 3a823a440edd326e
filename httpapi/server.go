// Package httpapi is the agent's browser-facing HTTP API: /api/versioninfo,
// /api/readers, /api/card, the /api/events WebSocket, the helpdesk status
// page at / (status.go) and the JavaScript client, all behind one Guard
// (same OS user, Host, Origin, CORS). It serves the state kept by package
// agent and never talks to a card itself.
package httpapi

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/signalr"
	"github.com/cardbridge/cardbridge/version"
)

// Backend is the agent state the API serves (agent.Core).
type Backend interface {
	Readers() api.Readers
	Card(ctx context.Context) api.Card
	CardJSON(ctx context.Context) []byte
	Available() bool
	Subscribe(buffer int) (*agent.Event, *agent.Subscription)
	OpenSigner(ctx context.Context, origin string) (*agent.CardSigner, error)
	SigningCertificate(ctx context.Context) (*x509.Certificate, error)
	OpenSignatureSigner(ctx context.Context, origin string) (*agent.CardSigner, error)
}

// Options configures a Server.
type Options struct {
	Backend Backend
	// Domains returns the DomainList in force; it may change at any time.
	Domains func() localhttp.DomainInfo
	// Self is the agent's own OS user; only its processes are served.
	Self peercred.User
	// PeerOwner finds who is at the other end of a connection;
	// nil means peercred.PeerOf on its addresses.
	PeerOwner func(net.Conn) (peercred.User, error)
	// PortService reports whether the agent is registered with the port
	// service; nil means standalone.
	PortService func() bool
	Logger      zerolog.Logger
	LogFile     string // shown on the status page
	// Settings are the agent's settings and where each came from, and
	// PolicyProblems what was wrong with the policies: for versioninfo
	// and the status page.
	Settings       []api.Setting
	PolicyProblems []string
	// MaxConns bounds concurrent connections per listener (4096 when zero).
	MaxConns int
	// Diagnostics makes the helpdesk report the status page offers to
	// copy: what `cardbridge doctor --json` says for this user. Nil runs
	// package doctor's checks on this machine.
	Diagnostics func(ctx context.Context) doctor.Report
}

// Server is the HTTP API.
type Server struct {
	opt      Options
	log      zerolog.Logger
	guard    *localhttp.Guard
	domains  func() localhttp.DomainInfo
	routes   http.Handler // the endpoints, which Serve puts behind the Guard
	handler  http.Handler // routes behind the Guard, for Handler
	upgrader websocket.Upgrader
	started  time.Time

	hub    *signalr.Server // the NHS Credential Management signing hub
	frames frames          // event frames, made once for every stream
	// refused are the latest requests the Guard turned away, and diag the
	// helpdesk report, both for the status page.
	refused refusedRing
	diag    diagnostics

	mu   sync.Mutex
	port int
	ws   map[*websocket.Conn]string // open event streams and their pages' Origin, closed at shutdown
}

// New makes a Server.
func New(opt Options) *Server {
	s := &Server{
		opt:     opt,
		log:     opt.Logger.With().Str("component", "http").Logger(),
		started: time.Now(),
		ws:      map[*websocket.Conn]string{},
	}
	s.diag.run = opt.Diagnostics
	if s.diag.run == nil {
		s.diag.run = s.runDoctor
	}
	self := opt.Self
	s.guard = localhttp.NewGuard(localhttp.GuardOptions{Self: &self, PeerOwner: opt.PeerOwner, Domains: opt.Domains, Logger: s.log, OnRefuse: s.refused.add})
	s.domains = s.guard.Domains
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 5 * time.Second,
		ReadBufferSize:   256,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		// The Guard has checked Origin against the DomainList already.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/versioninfo", s.handleVersionInfo)
	mux.HandleFunc("GET /api/readers", s.handleReaders)
	mux.HandleFunc("GET /api/card", s.handleCard)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("POST /api/authenticate", s.handleAuthenticate)
	mux.HandleFunc("POST /api/signing-certificate", s.handleSigningCertificate)
	mux.HandleFunc("POST /api/sign", s.handleSign)
	s.hub = signalr.New(signalr.Options{
		Hubs:        []string{"signingHub"},
		Methods:     map[string][]string{"signingHub": {"requestToSign"}},
		AllowOrigin: func(origin string) bool { return s.domains().List.Allows(origin) },
		Invoke:      s.invokeHub,
		Logger:      s.log,
	})
	mux.Handle("/signalr/", s.hub)
	mux.HandleFunc("GET /cardbridge.js", s.handleClientJS)
	mux.HandleFunc("GET /{$}", s.handleStatus)
	mux.HandleFunc("GET /debug/stats", s.handleStats)
	mux.HandleFunc("/", localhttp.NotFound)
	s.routes = mux
	s.handler = s.guard.Wrap(mux)
	return s
}

// Close ends the signing hub's connections; call it when the agent stops
// (Serve may run again, on another port, until then).
func (s *Server) Close() { s.hub.Close() }

// Handler is the whole API behind the Guard, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Port is the port being served (0 before Serve).
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Serve serves on lns until ctx ends, then shuts down within 5 s. All
// listeners must share one port.
func (s *Server) Serve(ctx context.Context, lns ...net.Listener) error {
	if len(lns) == 0 {
		return errors.New("serve: no listener")
	}
	s.mu.Lock()
	s.port = lns[0].Addr().(*net.TCPAddr).Port
	s.mu.Unlock()
	s.log.Info().Int("port", s.port).Msg("serving")
	return s.guard.Serve(ctx, s.routes, localhttp.ServeOptions{MaxConns: s.opt.MaxConns, BeforeShutdown: s.closeWebSockets}, lns...)
}

func (s *Server) closeWebSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.ws {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "agent stopping"), time.Now().Add(time.Second))
		_ = c.Close()
	}
}

// DomainsChanged closes the event streams and SignalR connections of pages
// whose origin the DomainList in force no longer allows; the agent calls it
// whenever it puts a new list in force. Streams and connections without an
// Origin (not a cross-origin page) are left alone.
func (s *Server) DomainsChanged() {
	list := s.domains().List
	refuse := func(origin string) bool { return origin != "" && !list.Allows(origin) }
	s.mu.Lock()
	closing := map[*websocket.Conn]string{}
	for c, origin := range s.ws {
		if refuse(origin) {
			closing[c] = origin
			delete(s.ws, c)
		}
	}
	s.mu.Unlock()
	for c, origin := range closing {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "origin no longer allowed"), time.Now().Add(time.Second))
		_ = c.Close()
		s.log.Warn().Str("origin", origin).Msg("closed an event stream: its origin is no longer on the DomainList")
	}
	if n := s.hub.CloseWhere(refuse); n > 0 {
		s.log.Warn().Int("connections", n).Msg("closed SignalR connections whose origin is no longer on the DomainList")
	}
}

// versionInfo describes this agent.
func (s *Server) versionInfo() api.VersionInfo {
	v := version.Get()
	d := s.domains()
	if d.List == nil {
		d.List = domainlist.Empty()
	}
	connected := false
	if s.opt.PortService != nil {
		connected = s.opt.PortService()
	}
	return api.VersionInfo{
		Product: v.Product, Version: v.Version, Commit: v.Commit, API: api.APIVersion,
		OS: runtime.GOOS, Arch: runtime.GOARCH, Port: s.Port(),
		PortService: api.PortServiceInfo{Connected: connected},
		DomainList:  api.DomainListInfo{Version: d.List.Version(), Source: d.Source, Entries: d.List.Entries()},
		Settings:    s.opt.Settings, PolicyProblems: s.opt.PolicyProblems,
	}
}
