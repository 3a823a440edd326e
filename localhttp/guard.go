package localhttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/peercred"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 64 << 10

// bodyReadTimeout bounds reading a request's body, from when its headers
// have been read: a client that stops sending one loses the connection
// rather than holding it. (Headers have Serve's 5 s.) A variable for tests.
var bodyReadTimeout = 30 * time.Second

// connKey finds a connection's connInfo in a request's context.
type connKey struct{}

// connInfo is what the guard learns once per TCP connection: the OS user at
// the other end. A connection's owner cannot change, so one lookup serves
// every request on a keep-alive connection.
type connInfo struct {
	conn   net.Conn
	lookup func(net.Conn) (peercred.User, error)
	once   sync.Once
	user   peercred.User
	err    error
	// hosts are the Host values that name this agent on the port the
	// connection arrived on.
	hosts [3]string
	// allowed is the last Origin let through on this connection: a
	// browser sends one site's requests down a kept-alive connection, so
	// the next request's check is a comparison.
	allowed atomic.Pointer[allowedOrigin]
}

// allowedOrigin is an Origin found on a DomainList, and its answers'
// Access-Control-Allow-Origin value.
type allowedOrigin struct {
	list   *domainlist.List
	origin string
	acao   []string // shared by the answers; net/http only reads it
}

func (ci *connInfo) owner() (peercred.User, error) {
	ci.once.Do(func() { ci.user, ci.err = ci.lookup(ci.conn) })
	return ci.user, ci.err
}

// GuardOptions configures a Guard.
type GuardOptions struct {
	// Self, when set, is the only OS user served (the agent); when nil any
	// local user is (the port service, which answers each caller for
	// itself and learns who it is with PeerUser).
	Self *peercred.User
	// PeerOwner finds who is at the other end of a connection;
	// nil means peercred.PeerOf on its addresses.
	PeerOwner func(net.Conn) (peercred.User, error)
	// Domains returns the DomainList in force; it may change at any time.
	Domains func() DomainInfo
	Logger  zerolog.Logger
	// MaxConnsPerUser bounds the connections each OS user may hold open
	// at once (0: no bound beyond Serve's own); the port service, which
	// every user calls, sets it.
	MaxConnsPerUser int
	// IdleTimeout closes keep-alive connections idle this long (Serve's
	// default of 2 minutes when zero).
	IdleTimeout time.Duration
	// OnRefuse, when set, is told of every request and connection the
	// Guard turns away, whether or not the refusal is logged in full (the
	// agent's status page shows the last few). It must return quickly.
	OnRefuse func(Refusal)
}

// Refusal is one request or connection the Guard turned away. It holds
// what the caller sent that explains the refusal and nothing more: no
// query string, cookie, body or other header.
type Refusal struct {
	Time   time.Time
	Code   api.Code
	Reason string // why, as logged, e.g. `Origin "https://evil.example" not on the DomainList`
	Origin string // the Origin header; "" when there was none (or it was not read)
	Method string // "" when the connection was turned away before its request came
	Path   string // without the query
	Host   string // the Host header
	Caller string // the OS user at the other end ("uid:1001"), "" when unknown
}

// Guard checks every request and WebSocket upgrade before a handler sees
// it; see Wrap.
type Guard struct {
	self      *peercred.User
	peerOwner func(net.Conn) (peercred.User, error)
	domains   func() DomainInfo
	log       zerolog.Logger
	refusals  *refusalLog
	conns     *userConns
	idle      time.Duration
	onRefuse  func(Refusal)
}

// NewGuard makes a Guard.
func NewGuard(opt GuardOptions) *Guard {
	g := &Guard{self: opt.Self, peerOwner: opt.PeerOwner, domains: opt.Domains, log: opt.Logger, refusals: newRefusalLog(opt.Logger),
		conns: &userConns{max: opt.MaxConnsPerUser, perID: map[string]int{}}, idle: opt.IdleTimeout, onRefuse: opt.OnRefuse}
	if g.peerOwner == nil {
		g.peerOwner = peerOfAddrs
	}
	if g.domains == nil {
		g.domains = func() DomainInfo { return DomainInfo{List: domainlist.Empty(), Source: "none"} }
	}
	return g
}

// Domains returns the DomainList in force.
func (g *Guard) Domains() DomainInfo { return g.domains() }

// ConnContext is http.Server.ConnContext: it attaches a connInfo whose
// owner lookup runs lazily, off the accept loop.
func (g *Guard) ConnContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{conn: c, lookup: g.peerOwner}
	if oc, ok := c.(*ownedConn); ok {
		// The owner was found when the connection was admitted.
		ci.once.Do(func() { ci.user, ci.err = oc.user, oc.err })
	}
	ci.hosts = hostsOf(c.LocalAddr())
	return context.WithValue(ctx, connKey{}, ci)
}

// hostsOf returns the Host values that name this agent on a connection to
// local: localhost, 127.0.0.1 and [::1] with local's port, whichever
// loopback address the connection came to (browsers send Host as the page
// wrote the URL). A local address without a port names nothing.
func hostsOf(local net.Addr) [3]string {
	ap, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return [3]string{}
	}
	p := ":" + strconv.Itoa(int(ap.Port()))
	return [3]string{"localhost" + p, "127.0.0.1" + p, "[::1]" + p}
}

// PeerUser is the OS user at the other end of the request's connection.
func PeerUser(r *http.Request) (peercred.User, error) {
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		return peercred.User{}, errors.New("peer user: the request did not come through the guard's server")
	}
	return ci.owner()
}

// Wrap puts the Guard in front of next. It is the one gate every request
// and WebSocket upgrade passes through, in this order:
//
//  1. the caller must be a process of the agent's own OS user (403
//     WRONG_USER), when the Guard has a Self;
//  2. Host must be localhost, 127.0.0.1 or [::1] with the port being served,
//     which defeats DNS rebinding (421 HOST_NOT_ALLOWED);
//  3. the request target must be a path: "OPTIONS *" is refused (400
//     BAD_REQUEST);
//  4. an Origin header, when present, must be on the DomainList (403
//     ORIGIN_NOT_ALLOWED, without CORS headers); "null" never is.
//
// Allowed cross-origin callers get CORS with credentials, and preflights
// (with Private Network Access) are answered here. Every answer carries the
// security headers; request bodies are capped at MaxBodyBytes and must
// arrive within bodyReadTimeout. Refusals are
// logged with their reason, the first few per caller and code in each
// minute in full and the rest as one summary line (see refusalLog).
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hasBody := r.Body != nil && r.Body != http.NoBody
		if hasBody {
			// Before any check: a refused request's body is read too,
			// when net/http discards it. Once the body has been read,
			// net/http clears the deadline.
			setBodyDeadline(w)
		}
		h := w.Header()
		securityHeaders(h)
		origin, no := g.check(r)
		if no != nil {
			g.refuse(w, r, no)
			return
		}
		if origin != nil {
			allowOrigin(h, origin.acao)
			if isPreflight(r) {
				preflight(w, r)
				return
			}
		}
		if hasBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// setBodyDeadline gives the request being answered on w bodyReadTimeout to
// send its body. Writers without a connection (a handler test's recorder)
// have nothing to bound.
func setBodyDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
}

// refusal is a request or connection the Guard turns away: the answer's
// status and code, the message the caller reads, and the reason logged,
// at level.
type refusal struct {
	status  int
	code    api.Code
	reason  string
	message string
	level   zerolog.Level
}

// refused is a refusal logged as a warning.
func refused(status int, code api.Code, reason, message string) *refusal {
	return &refusal{status: status, code: code, reason: reason, message: message, level: zerolog.WarnLevel}
}

// check makes Wrap's decisions, in the order its doc lists, on a request
// whose context carries its connection's connInfo: it returns why the
// request is refused, or the cross-origin caller it lets through (nil for a
// request without Origin).
func (g *Guard) check(r *http.Request) (origin *allowedOrigin, no *refusal) {
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		return nil, refused(http.StatusForbidden, api.CodeWrongUser, "connection owner unknown", "the connection's owner could not be checked")
	}
	if g.self != nil {
		u, err := ci.owner()
		if no := ownerRefusal(*g.self, u, err); no != nil {
			return nil, no
		}
	}
	if !ci.validHost(r.Host) {
		return nil, refused(http.StatusMisdirectedRequest, api.CodeHostNotAllowed, "Host "+strconv.Quote(r.Host)+" not allowed", "requests must be addressed to localhost")
	}
	if r.RequestURI == "*" {
		// "OPTIONS *" asks about the server, not a resource; nothing
		// here answers it.
		return nil, refused(http.StatusBadRequest, api.CodeBadRequest, "request target * (server-wide OPTIONS)", "no such endpoint")
	}
	return g.checkOrigin(ci, r.Header.Values("Origin"))
}

// ownerRefusal decides whether the OS user u (or the error finding it) at
// the other end of a connection may use an agent serving self.
func ownerRefusal(self, u peercred.User, err error) *refusal {
	switch {
	case errors.Is(err, peercred.ErrNotFound):
		// The kernel holds no open socket for this connection: almost
		// always the client sent its request and closed before the
		// lookup ran. Refused as any unknown caller is, but logged as
		// what it is rather than as a stranger.
		no := refused(http.StatusForbidden, api.CodeWrongUser, "the caller's socket was gone before its owner could be checked (the client closed the connection)", "the caller's user could not be determined")
		no.level = zerolog.InfoLevel
		return no
	case err != nil:
		return refused(http.StatusForbidden, api.CodeWrongUser, "connection owner lookup failed: "+err.Error(), "the caller's user could not be determined")
	case u != self:
		return refused(http.StatusForbidden, api.CodeWrongUser, "caller is "+u.String()+", not "+self.String(), "this agent serves another user")
	}
	return nil
}

// checkOrigin decides on a request's Origin headers: none is a request
// from no page, let through without CORS; one must be on the DomainList
// in force ("null" and "" never are); several are refused. The
// connection's last allowed Origin is let through again while the same
// list is in force.
func (g *Guard) checkOrigin(ci *connInfo, origins []string) (origin *allowedOrigin, no *refusal) {
	switch len(origins) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, refused(http.StatusForbidden, api.CodeOriginNotAllowed, "several Origin headers", "origin not allowed")
	}
	list := g.domains().List
	if last := ci.allowed.Load(); last != nil && last.list == list && last.origin == origins[0] {
		return last, nil
	}
	if !list.Allows(origins[0]) {
		return nil, refused(http.StatusForbidden, api.CodeOriginNotAllowed, "Origin "+strconv.Quote(origins[0])+" not on the DomainList", "origin not allowed")
	}
	origin = &allowedOrigin{list: list, origin: origins[0], acao: []string{origins[0]}}
	ci.allowed.Store(origin)
	return origin, nil
}

// allowOrigin sets the CORS headers that let an allowed page read the
// answer, with credentials; acao is the Access-Control-Allow-Origin value.
func allowOrigin(h http.Header, acao []string) {
	h["Access-Control-Allow-Origin"] = acao
	h["Access-Control-Allow-Credentials"] = credentialsTrue
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v, "Origin")
	} else {
		h["Vary"] = varyOrigin
	}
}

// isPreflight reports whether r is a CORS preflight: OPTIONS asking about
// a method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// allowedMethods and allowedHeaders are what preflights grant.
const (
	allowedMethods = "GET, POST, OPTIONS"
	allowedHeaders = "Content-Type, X-Requested-With, X-SignalR-User-Agent"
)

// preflight answers a CORS preflight from an allowed origin.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", allowedMethods)
	h.Set("Access-Control-Allow-Headers", allowedHeaders)
	h.Set("Access-Control-Max-Age", "600")
	if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network")
	w.WriteHeader(http.StatusNoContent)
}

// Header values shared by every answer; net/http only reads them.
var (
	noStore    = []string{"no-store"}
	noSniff    = []string{"nosniff"}
	frameDeny  = []string{"DENY"}
	noReferrer = []string{"no-referrer"}
	apiCSP     = []string{"default-src 'none'; frame-ancestors 'none'"}
	sameOrigin = []string{"same-origin"}

	credentialsTrue = []string{"true"}
	varyOrigin      = []string{"Origin"}
)

// securityHeaders sets the headers every answer carries: pages read the
// API through CORS, and nothing here is meant to be cached, sniffed as
// another type, framed (CSP frame-ancestors) or to load anything (CSP
// default-src). Documents add documentHeaders.
func securityHeaders(h http.Header) {
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	h["Content-Security-Policy"] = apiCSP
}

// documentHeaders are the extra headers of HTML answers, for browsers
// that predate CSP's frame-ancestors and for what a document can leak.
func documentHeaders(h http.Header) {
	h["X-Frame-Options"] = frameDeny
	h["Referrer-Policy"] = noReferrer
	h["Cross-Origin-Opener-Policy"] = sameOrigin
}

// validHost reports whether a Host header names this agent: localhost
// (in any case), 127.0.0.1 or [::1], with the port being served. This
// defeats DNS rebinding: a page from evil.example that resolves to
// 127.0.0.1 still sends Host: evil.example.
func (ci *connInfo) validHost(host string) bool {
	if ci.hosts[0] == "" {
		return false
	}
	return strings.EqualFold(host, ci.hosts[0]) || host == ci.hosts[1] || host == ci.hosts[2]
}

// refuse answers with the refusal's API error and logs why, without the
// query string, cookies or body.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, no *refusal) {
	if no.code == api.CodeWrongUser {
		// A caller that is not the agent's user keeps no connection.
		w.Header().Set("Connection", "close")
	}
	WriteError(w, no.status, no.code, no.message)
	caller := g.callerID(r)
	if g.onRefuse != nil {
		rf := Refusal{Time: time.Now(), Code: no.code, Reason: no.reason, Origin: r.Header.Get("Origin"),
			Method: r.Method, Path: r.URL.Path, Host: r.Host}
		if caller != "unidentified" {
			rf.Caller = caller
		}
		g.onRefuse(rf)
	}
	if !g.refusals.allow(refusalKey{caller: caller, code: no.code}) {
		return
	}
	g.log.WithLevel(no.level).
		Str("code", string(no.code)).
		Str("reason", no.reason).
		Str("remote", r.RemoteAddr).
		Str("method", r.Method).
		Str("path", r.URL.Path).
		Str("host", r.Host).
		Str("origin", r.Header.Get("Origin")).
		Msg("refused request")
}

// callerID names the caller for counting refusals: its OS user when the
// Guard has looked it up (the agent always does), else "unidentified".
func (g *Guard) callerID(r *http.Request) string {
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil || g.self == nil {
		return "unidentified"
	}
	u, err := ci.owner() // done already: the user check comes first
	if err != nil {
		return "unidentified"
	}
	return u.ID
}

// DomainInfo is the DomainList in force and where it came from.
type DomainInfo struct {
	List   *domainlist.List
	Source string // "builtin", "file:<path>", "portservice"
}
