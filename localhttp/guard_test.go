package localhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

// The Guard's decisions as tables: each request is built with httptest and
// carries the connection info ConnContext gives it, from a connection that
// has addresses and nothing else, so no socket is opened.

// testDomains is the DomainList in force: an exact origin, a wildcard and
// one with a port.
const testDomains = `https://my.esr.nhs.uk
https://*.spineservices.nhs.uk
http://localhost:8080
`

var (
	self  = peercred.User{ID: "uid:1000"}
	other = peercred.User{ID: "uid:1001"}
)

// addrConn is a connection that only says where it is.
type addrConn struct {
	net.Conn
	local net.Addr
}

func (c addrConn) LocalAddr() net.Addr  { return c.local }
func (c addrConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000} }

// tcpAddr parses "127.0.0.1:43485" or "[::1]:43485".
func tcpAddr(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// pipeAddr is a local address without a port.
type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// testGuard is a Guard for the agent of self (or, without self, one that
// serves every user, as the port service's does) on the test DomainList,
// whose callers are owner (or the error finding it); it logs to logs.
func testGuard(t *testing.T, withSelf bool, owner peercred.User, ownerErr error, logs io.Writer) *Guard {
	t.Helper()
	list, bad := domainlist.Parse([]byte(testDomains))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	opt := GuardOptions{
		PeerOwner: func(net.Conn) (peercred.User, error) { return owner, ownerErr },
		Domains:   func() DomainInfo { return DomainInfo{List: list, Source: "test"} },
		Logger:    zerolog.New(logs),
	}
	if withSelf {
		opt.Self = &self
	}
	return NewGuard(opt)
}

// guardRequest is a request that came through the Guard's server on a
// connection to local.
func guardRequest(g *Guard, local net.Addr, method, target string, body io.Reader) *http.Request {
	return httptest.NewRequestWithContext(g.ConnContext(context.Background(), addrConn{local: local}), method, target, body)
}

func TestValidHost(t *testing.T) {
	g := testGuard(t, true, self, nil, io.Discard)
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1:43485", true},
		{"[::1]:43485", true},
		{"localhost:43485", true},
		{"LOCALHOST:43485", true},
		{"LocalHost:43485", true},
		// Another port: another program, or this agent moved.
		{"localhost:43486", false},
		{"127.0.0.1:80", false},
		{"localhost:043485", false},
		{"localhost:43485:1", false},
		// No port: what a page on http://localhost/ would send.
		{"localhost", false},
		{"127.0.0.1", false},
		{"[::1]", false},
		// DNS rebinding: names that resolve to 127.0.0.1 still say
		// themselves in Host.
		{"evil.com:43485", false},
		{"127.0.0.1.nip.io:43485", false},
		{"localhost.nip.io:43485", false},
		{"sub.localhost:43485", false},
		// Missing Host (HTTP/1.0).
		{"", false},
		// Userinfo and a trailing dot are other names than the three.
		{"user@localhost:43485", false},
		{"user:pw@127.0.0.1:43485", false},
		{"localhost.:43485", false},
		{"127.0.0.1.:43485", false},
		// Other spellings of loopback.
		{"127.0.0.2:43485", false},
		{"127.1:43485", false},
		{"2130706433:43485", false},
		{"0x7f.0.0.1:43485", false},
		{"[::ffff:127.0.0.1]:43485", false},
		{"[0:0:0:0:0:0:0:1]:43485", false},
		{"::1:43485", false},
		{"[::1]:43485 ", false},
	} {
		// The three names are good on either loopback address: a page
		// writes localhost and the browser picks the address.
		for _, local := range []string{"127.0.0.1:43485", "[::1]:43485"} {
			r := guardRequest(g, tcpAddr(local), "GET", "/api/card", nil)
			ci := r.Context().Value(connKey{}).(*connInfo)
			if got := ci.validHost(tc.host); got != tc.want {
				t.Errorf("on %s, Host %q: valid %v, want %v", local, tc.host, got, tc.want)
			}
		}
	}
	// A connection whose local port is not known names no Host.
	r := guardRequest(g, pipeAddr{}, "GET", "/api/card", nil)
	if ci := r.Context().Value(connKey{}).(*connInfo); ci.validHost("localhost:0") || ci.validHost("") || ci.validHost(":0") {
		t.Error("a connection without a known port accepted a Host")
	}
}

func TestCheckOrigin(t *testing.T) {
	g := testGuard(t, true, self, nil, io.Discard)
	empty := NewGuard(GuardOptions{Logger: zerolog.Nop()}) // no DomainList: the empty one
	for _, tc := range []struct {
		name    string
		g       *Guard
		origins []string
		allowed string // the origin let through with CORS
		refused bool
	}{
		{"no Origin: not a page", g, nil, "", false},
		{"on the list", g, []string{"https://my.esr.nhs.uk"}, "https://my.esr.nhs.uk", false},
		{"a wildcard's subdomain", g, []string{"https://a.spineservices.nhs.uk"}, "https://a.spineservices.nhs.uk", false},
		{"a wildcard's deeper subdomain", g, []string{"https://a.b.spineservices.nhs.uk"}, "https://a.b.spineservices.nhs.uk", false},
		{"a wildcard's own domain", g, []string{"https://spineservices.nhs.uk"}, "", true},
		{"not on the list", g, []string{"https://evil.example"}, "", true},
		{"a look-alike", g, []string{"https://my.esr.nhs.uk.evil.example"}, "", true},
		{"http for an https entry", g, []string{"http://my.esr.nhs.uk"}, "", true},
		{"https for an http entry", g, []string{"https://localhost:8080"}, "", true},
		{"the entry's port", g, []string{"http://localhost:8080"}, "http://localhost:8080", false},
		{"another port", g, []string{"http://localhost:8081"}, "", true},
		{"no port for an entry with one", g, []string{"http://localhost"}, "", true},
		{"the default port written out", g, []string{"https://my.esr.nhs.uk:443"}, "https://my.esr.nhs.uk:443", false},
		{"a port beside the default", g, []string{"https://my.esr.nhs.uk:8443"}, "", true},
		{"upper case", g, []string{"HTTPS://MY.ESR.NHS.UK"}, "HTTPS://MY.ESR.NHS.UK", false},
		{"with a path", g, []string{"https://my.esr.nhs.uk/"}, "", true},
		{"with userinfo", g, []string{"https://user@my.esr.nhs.uk"}, "", true},
		{"another scheme", g, []string{"ws://my.esr.nhs.uk"}, "", true},
		{"null: a sandboxed or file page", g, []string{"null"}, "", true},
		{"empty", g, []string{""}, "", true},
		{"several, each allowed", g, []string{"https://my.esr.nhs.uk", "https://my.esr.nhs.uk"}, "", true},
		{"several, one allowed", g, []string{"https://evil.example", "https://my.esr.nhs.uk"}, "", true},
		{"no DomainList in force", empty, []string{"https://my.esr.nhs.uk"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed, no := tc.g.checkOrigin(&connInfo{}, tc.origins)
			origin := ""
			if allowed != nil {
				origin = allowed.origin
				if len(allowed.acao) != 1 || allowed.acao[0] != origin {
					t.Errorf("Access-Control-Allow-Origin %q for %q", allowed.acao, origin)
				}
			}
			if origin != tc.allowed || (no != nil) != tc.refused {
				t.Fatalf("checkOrigin(%q) = %q, %+v; want %q, refused %v", tc.origins, origin, no, tc.allowed, tc.refused)
			}
			if no != nil && (no.status != http.StatusForbidden || no.code != api.CodeOriginNotAllowed) {
				t.Errorf("refused with %d %s, want 403 %s", no.status, no.code, api.CodeOriginNotAllowed)
			}
		})
	}
}

// TestCheckOriginOnOneConnection: the connection's last allowed Origin is
// let through again without a lookup only while the same DomainList is in
// force and the Origin is the same; anything else is checked afresh.
func TestCheckOriginOnOneConnection(t *testing.T) {
	first, err := domainlist.Parse([]byte("https://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := domainlist.Parse([]byte("https://*.spineservices.nhs.uk\n"))
	if err != nil {
		t.Fatal(err)
	}
	var inForce atomic.Pointer[domainlist.List]
	inForce.Store(first)
	g := NewGuard(GuardOptions{Logger: zerolog.Nop(), Domains: func() DomainInfo { return DomainInfo{List: inForce.Load()} }})
	ci := &connInfo{}
	check := func(origin string, want bool) {
		t.Helper()
		allowed, no := g.checkOrigin(ci, []string{origin})
		if got := allowed != nil && allowed.origin == origin && no == nil; got != want {
			t.Fatalf("%s: allowed %v (%+v, %+v), want %v", origin, got, allowed, no, want)
		}
	}
	check("https://my.esr.nhs.uk", true)
	check("https://my.esr.nhs.uk", true) // again, from the connection's memory
	check("https://evil.example", false) // another Origin on the same connection
	check("https://my.esr.nhs.uk", true)
	inForce.Store(second) // the list changes: the remembered verdict is void
	check("https://my.esr.nhs.uk", false)
	check("https://a.spineservices.nhs.uk", true)
	inForce.Store(first)
	check("https://my.esr.nhs.uk", true)
}

func TestOwnerRefusal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		owner  peercred.User
		err    error
		refuse bool
		level  zerolog.Level
		reason string
	}{
		{"the agent's user", self, nil, false, 0, ""},
		{"another user", other, nil, true, zerolog.WarnLevel, "caller is uid:1001, not uid:1000"},
		{"a user with no ID", peercred.User{}, nil, true, zerolog.WarnLevel, "caller is"},
		{"socket gone before the lookup", peercred.User{}, peercred.ErrNotFound, true, zerolog.InfoLevel, "the client closed the connection"},
		{"socket gone, wrapped", peercred.User{}, errors.Join(errors.New("no entry"), peercred.ErrNotFound), true, zerolog.InfoLevel, "the client closed the connection"},
		{"lookup failed", peercred.User{}, errors.New("netlink: permission denied"), true, zerolog.WarnLevel, "lookup failed: netlink: permission denied"},
		{"lookup failed, a user returned anyway", self, errors.New("partial answer"), true, zerolog.WarnLevel, "lookup failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			no := ownerRefusal(self, tc.owner, tc.err)
			if (no != nil) != tc.refuse {
				t.Fatalf("refusal %+v, want refused %v", no, tc.refuse)
			}
			if no == nil {
				return
			}
			if no.status != http.StatusForbidden || no.code != api.CodeWrongUser || no.level != tc.level || !strings.Contains(no.reason, tc.reason) {
				t.Errorf("refusal %+v, want 403 %s at %v, reason with %q", no, api.CodeWrongUser, tc.level, tc.reason)
			}
		})
	}
}

// TestGuardDecisions runs whole requests through Wrap: which are refused,
// with what status and code, which reach the handler, and the headers of
// each answer.
func TestGuardDecisions(t *testing.T) {
	const page = "https://my.esr.nhs.uk"
	local := tcpAddr("127.0.0.1:43485")
	type req struct {
		method, target, host string
		hdr                  http.Header
		body                 string
	}
	get := func(hdr http.Header) req { return req{"GET", "/api/card", "localhost:43485", hdr, ""} }
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	for _, tc := range []struct {
		name     string
		withSelf bool
		owner    peercred.User
		ownerErr error
		noConn   bool // the request did not come through the Guard's server
		req      req
		status   int
		code     api.Code // "" for an answer of the handler
		cors     bool
		logged   string // the level of the refusal's log entry
	}{
		{name: "the agent's user", withSelf: true, owner: self, req: get(nil), status: 200},
		{name: "another user", withSelf: true, owner: other, req: get(nil), status: 403, code: api.CodeWrongUser, logged: "warn"},
		{name: "another user, from an allowed page", withSelf: true, owner: other, req: get(origin(page)), status: 403, code: api.CodeWrongUser, logged: "warn"},
		{name: "another user at a bad Host: the user first", withSelf: true, owner: other, req: req{"GET", "/", "evil.com:43485", nil, ""}, status: 403, code: api.CodeWrongUser, logged: "warn"},
		{name: "owner unknown, socket gone", withSelf: true, ownerErr: peercred.ErrNotFound, req: get(nil), status: 403, code: api.CodeWrongUser, logged: "info"},
		{name: "owner lookup failed", withSelf: true, ownerErr: errors.New("no table"), req: get(nil), status: 403, code: api.CodeWrongUser, logged: "warn"},
		{name: "no connection info", withSelf: true, owner: self, noConn: true, req: get(nil), status: 403, code: api.CodeWrongUser, logged: "warn"},
		{name: "no Self: any user", owner: other, req: get(nil), status: 200},
		{name: "no Self: the owner is not asked for", ownerErr: errors.New("no table"), req: get(nil), status: 200},
		{name: "no Self: no connection info", noConn: true, req: get(nil), status: 403, code: api.CodeWrongUser, logged: "warn"},
		{name: "127.0.0.1", withSelf: true, owner: self, req: req{"GET", "/api/card", "127.0.0.1:43485", nil, ""}, status: 200},
		{name: "rebinding Host", withSelf: true, owner: self, req: req{"GET", "/api/card", "evil.com:43485", origin(page), ""}, status: 421, code: api.CodeHostNotAllowed, logged: "warn"},
		{name: "Host on another port", withSelf: true, owner: self, req: req{"GET", "/api/card", "localhost:1", nil, ""}, status: 421, code: api.CodeHostNotAllowed, logged: "warn"},
		{name: "no Host", withSelf: true, owner: self, req: req{"GET", "/api/card", "", nil, ""}, status: 421, code: api.CodeHostNotAllowed, logged: "warn"},
		{name: "OPTIONS *", withSelf: true, owner: self, req: req{"OPTIONS", "*", "localhost:43485", nil, ""}, status: 400, code: api.CodeBadRequest, logged: "warn"},
		{name: "allowed page", withSelf: true, owner: self, req: get(origin(page)), status: 200, cors: true},
		{name: "page not on the list", withSelf: true, owner: self, req: get(origin("https://evil.example")), status: 403, code: api.CodeOriginNotAllowed, logged: "warn"},
		{name: "null Origin", withSelf: true, owner: self, req: get(origin("null")), status: 403, code: api.CodeOriginNotAllowed, logged: "warn"},
		{name: "two Origins", withSelf: true, owner: self, req: get(http.Header{"Origin": {page, page}}), status: 403, code: api.CodeOriginNotAllowed, logged: "warn"},
		{name: "a body at the limit", withSelf: true, owner: self, req: req{"POST", "/api/authenticate", "localhost:43485", nil, strings.Repeat("x", MaxBodyBytes)}, status: 200},
		{name: "a body over the limit", withSelf: true, owner: self, req: req{"POST", "/api/authenticate", "localhost:43485", nil, strings.Repeat("x", MaxBodyBytes+1)}, status: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testutil.Buffer
			g := testGuard(t, tc.withSelf, tc.owner, tc.ownerErr, &logs)
			reached := false
			h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
				}
			}))
			var body io.Reader
			if tc.req.body != "" {
				body = strings.NewReader(tc.req.body)
			}
			r := guardRequest(g, local, tc.req.method, tc.req.target, body)
			if tc.noConn {
				r = r.WithContext(context.Background())
			}
			r.Host = tc.req.host
			for k, v := range tc.req.hdr {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if w.Code != tc.status {
				t.Fatalf("answered %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if reached != (tc.code == "") {
				t.Errorf("handler reached: %v, want %v", reached, tc.code == "")
			}
			if tc.code != "" && !strings.Contains(w.Body.String(), `"code":"`+string(tc.code)+`"`) {
				t.Errorf("answer %s, want code %s", w.Body, tc.code)
			}
			hdr := w.Result().Header
			for k, v := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"} {
				if hdr.Get(k) != v {
					t.Errorf("%s: %q, want %q", k, hdr.Get(k), v)
				}
			}
			if got := hdr.Get("Access-Control-Allow-Origin"); (got != "") != tc.cors || (tc.cors && got != tc.req.hdr.Get("Origin")) {
				t.Errorf("Access-Control-Allow-Origin %q, want CORS %v", got, tc.cors)
			}
			if tc.cors && (hdr.Get("Access-Control-Allow-Credentials") != "true" || hdr.Get("Vary") != "Origin") {
				t.Errorf("CORS headers %v", hdr)
			}
			if close := hdr.Get("Connection") == "close"; close != (tc.code == api.CodeWrongUser) {
				t.Errorf("Connection: close %v, want it for %s only", close, api.CodeWrongUser)
			}
			got := logs.String()
			if tc.logged == "" && got != "" {
				t.Errorf("logged %q for a request let through", got)
			}
			if tc.logged != "" && (!strings.Contains(got, `"level":"`+tc.logged+`"`) || !strings.Contains(got, `"code":"`+string(tc.code)+`"`) || !strings.Contains(got, "refused request")) {
				t.Errorf("logged %q, want the refusal at level %s", got, tc.logged)
			}
		})
	}
}

func TestPreflights(t *testing.T) {
	const page = "https://my.esr.nhs.uk"
	g := testGuard(t, true, self, nil, io.Discard)
	for _, tc := range []struct {
		name    string
		hdr     http.Header
		status  int  // 0: not a preflight, the handler answers
		pna     bool // Private Network Access granted
		refused bool
	}{
		{"GET", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"GET"}}, 204, false, false},
		{"POST with a Content-Type", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}, 204, false, false},
		// The answer lists what is granted; the browser refuses the rest.
		{"a method not granted", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"DELETE"}}, 204, false, false},
		{"Private Network Access", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Private-Network": {"true"}}, 204, true, false},
		{"Private Network Access in upper case", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Private-Network": {"TRUE"}}, 204, true, false},
		{"Private Network Access not asked", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Private-Network": {"false"}}, 204, false, false},
		// Local Network Access (Chrome 142 and later) asks the user, not
		// the server: its request header grants nothing here.
		{"Local Network Access header", http.Header{"Origin": {page}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Local-Network": {"true"}}, 204, false, false},
		{"not on the DomainList", http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Private-Network": {"true"}}, 403, false, true},
		{"no method asked: a plain OPTIONS", http.Header{"Origin": {page}}, 0, false, false},
		{"no Origin: not a page's", http.Header{"Access-Control-Request-Method": {"GET"}}, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				w.WriteHeader(http.StatusMethodNotAllowed)
			}))
			r := guardRequest(g, tcpAddr("[::1]:43485"), "OPTIONS", "/api/card", nil)
			r.Host = "localhost:43485"
			r.Header = tc.hdr
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			hdr := w.Result().Header

			if want := tc.status; want == 0 {
				if !reached || w.Code != http.StatusMethodNotAllowed {
					t.Fatalf("answered %d, handler reached %v: want the handler's answer", w.Code, reached)
				}
			} else if w.Code != want || reached {
				t.Fatalf("answered %d, handler reached %v: want %d from the Guard", w.Code, reached, want)
			}
			answered := tc.status == http.StatusNoContent
			for k, want := range map[string]string{
				"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
				"Access-Control-Allow-Headers": "Content-Type, X-Requested-With, X-SignalR-User-Agent",
				"Access-Control-Max-Age":       "600",
			} {
				if got := hdr.Get(k); (answered && got != want) || (!answered && got != "") {
					t.Errorf("%s: %q (preflight answered: %v)", k, got, answered)
				}
			}
			if answered && !strings.Contains(strings.Join(hdr.Values("Vary"), ", "), "Access-Control-Request-Private-Network") {
				t.Errorf("Vary: %q", hdr.Values("Vary"))
			}
			if got := hdr.Get("Access-Control-Allow-Private-Network"); (got == "true") != tc.pna || (got != "" && got != "true") {
				t.Errorf("Access-Control-Allow-Private-Network: %q, want granted %v", got, tc.pna)
			}
			if got := hdr.Get("Access-Control-Allow-Local-Network"); got != "" {
				t.Errorf("Access-Control-Allow-Local-Network: %q", got)
			}
			if got, want := hdr.Get("Access-Control-Allow-Origin"), !tc.refused && tc.hdr.Get("Origin") != ""; (got != "") != want {
				t.Errorf("Access-Control-Allow-Origin: %q, want CORS %v", got, want)
			}
		})
	}
}
