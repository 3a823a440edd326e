// Package httpapi is the agent's browser-facing HTTP API: /api/versioninfo,
// /api/readers, /api/card, the /api/events WebSocket, the helpdesk status
// page at / and the JavaScript client, all behind one Guard (same OS user,
// Host, Origin, CORS). It serves the state kept by package agent and never
// talks to a card itself.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"golang.org/x/net/netutil"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/version"
)

// Backend is the agent state the API serves (agent.Core).
type Backend interface {
	Readers() api.Readers
	Card(ctx context.Context) api.Card
	CardJSON(ctx context.Context) []byte
	Available() bool
	Subscribe(buffer int) (*agent.Event, *agent.Subscription)
}

// Options configures a Server.
type Options struct {
	Backend Backend
	// Domains returns the DomainList in force; it may change at any time.
	Domains func() DomainInfo
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
	// MaxConns bounds concurrent connections per listener (4096 when zero).
	MaxConns int
}

// Server is the HTTP API.
type Server struct {
	opt      Options
	log      zerolog.Logger
	guard    *Guard
	domains  func() DomainInfo
	handler  http.Handler
	upgrader websocket.Upgrader
	started  time.Time

	mu   sync.Mutex
	port int
	ws   map[*websocket.Conn]struct{} // open event streams, closed at shutdown
}

// New makes a Server.
func New(opt Options) *Server {
	s := &Server{
		opt:     opt,
		log:     opt.Logger.With().Str("component", "http").Logger(),
		started: time.Now(),
		ws:      map[*websocket.Conn]struct{}{},
	}
	self := opt.Self
	s.guard = NewGuard(GuardOptions{Self: &self, PeerOwner: opt.PeerOwner, Domains: opt.Domains, Logger: s.log})
	s.domains = s.guard.domains
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
	mux.HandleFunc("GET /cardbridge.js", s.handleClientJS)
	mux.HandleFunc("GET /{$}", s.handleStatus)
	mux.HandleFunc("GET /debug/stats", s.handleStats)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeBadRequest, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.handler = s.guard.Wrap(mux)
	return s
}

// Handler is the whole API behind the Guard, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Port is the port being served (0 before Serve).
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// peerOfAddrs finds a connection's peer from its addresses, which survive
// the listener wrappers (connection limits) around the TCP connection.
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
// loopback address is refused.
func Listen(addr string) ([]net.Listener, error) {
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
			if i > 0 && len(lns) > 0 {
				break // IPv6 loopback missing: serve IPv4 alone
			}
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", net.JoinHostPort(h, port), err)
		}
		lns = append(lns, ln)
		if port == "0" {
			port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) // the same port on both
		}
	}
	return lns, nil
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
	return ServeLoopback(ctx, s.handler, s.guard, s.opt.MaxConns, s.closeWebSockets, lns...)
}

// ServeLoopback serves h on lns with the Guard's connection tracking and
// cardbridge's limits (header size and time, idle time, at most maxConns
// connections per listener, 4096 when zero) until ctx ends or a listener
// fails. beforeShutdown, if set, runs first at the end (to close hijacked
// connections, which Shutdown does not track).
func ServeLoopback(ctx context.Context, h http.Handler, g *Guard, maxConns int, beforeShutdown func(), lns ...net.Listener) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second, // hijacked WebSockets clear it
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       g.ConnContext,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	if maxConns <= 0 {
		maxConns = 4096
	}
	if beforeShutdown == nil {
		beforeShutdown = func() {}
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(netutil.LimitListener(ln, maxConns)) }()
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
	beforeShutdown()
	err := srv.Shutdown(shutCtx)
	if err != nil {
		_ = srv.Close()
	}
	return err
}

func (s *Server) closeWebSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.ws {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "agent stopping"), time.Now().Add(time.Second))
		_ = c.Close()
	}
}

// versionInfo describes this agent.
func (s *Server) versionInfo() api.VersionInfo {
	v := version.Get()
	d := s.domains()
	if d.List == nil {
		d.List = domainlist.Empty()
	}
	entries := []string{}
	for _, p := range d.List.Patterns() {
		entries = append(entries, p.String())
	}
	connected := false
	if s.opt.PortService != nil {
		connected = s.opt.PortService()
	}
	return api.VersionInfo{
		Product: v.Product, Version: v.Version, Commit: v.Commit, API: api.APIVersion,
		OS: runtime.GOOS, Arch: runtime.GOARCH, Port: s.Port(),
		PortService: api.PortServiceInfo{Connected: connected},
		DomainList:  api.DomainListInfo{Version: d.List.Version(), Source: d.Source, Entries: entries},
	}
}
