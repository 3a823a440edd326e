package signalr

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/rs/zerolog"
)

// Invoker runs a hub method. args are the raw JSON arguments. It returns
// the method's result (marshalled to JSON as "R") or an error (sent as "E").
// hub is the name as configured in Options.Hubs; method is as the page sent
// it, and SignalR matches method names case-insensitively. ctx ends when the
// send request does, when the connection ends or after
// Options.InvokeTimeout.
type Invoker func(ctx context.Context, c *Conn, hub, method string, args []json.RawMessage) (any, error)

// Defaults for Options.
const (
	DefaultPollWait      = 20 * time.Second
	DefaultInvokeTimeout = 3 * time.Minute
	DefaultMaxConns      = 256
)

// The timings negotiate announces, in the units the client expects
// (seconds), and what the server does with them.
const (
	// keepAliveTimeout is how long a client waits for a keep-alive before it
	// reconnects (serverSentEvents; longPolling has none).
	keepAliveTimeout = 20 * time.Second
	// disconnectTimeout is how long a connection may go without a request in
	// flight before the server forgets it, and how long a client keeps
	// reconnecting.
	disconnectTimeout = 30 * time.Second
	// connectionTimeout is what the client adds 10 s to for its poll
	// timeout; polls here end after PollWait, well within it.
	connectionTimeout = 110 * time.Second
	// transportConnectTimeout bounds how long a client waits for a
	// transport's init message.
	transportConnectTimeout = 5 * time.Second
	// keepAliveInterval is how often a serverSentEvents stream sends one.
	keepAliveInterval = 10 * time.Second
	// sweepInterval is how often idle connections are looked for.
	sweepInterval = 5 * time.Second
)

// Input limits.
const (
	// maxBody bounds a request body; the agent's Guard caps bodies at the
	// same size.
	maxBody = 64 << 10
	// maxConnectionData bounds the connectionData query parameter.
	maxConnectionData = 4 << 10
	// maxTokenLen bounds a connectionToken worth looking up.
	maxTokenLen = 128
	// maxQueue bounds the messages queued for one connection.
	maxQueue = 64
	// maxInvocations bounds the invocations in progress on one connection.
	maxInvocations = 16
)

// Transport names as the clients send them.
const (
	longPolling      = "longPolling"
	serverSentEvents = "serverSentEvents"
)

// Errors of Conn.Send, and the one an Invoker returns for a method it does
// not have.
var (
	// ErrConnClosed is returned by Conn.Send once the connection has ended.
	ErrConnClosed = errors.New("signalr send: connection closed")
	// ErrQueueFull is returned by Conn.Send when the client has not fetched
	// the messages already queued for it.
	ErrQueueFull = errors.New("signalr send: too many undelivered messages")
	// ErrNotSubscribed is returned by Conn.Send for a hub the client did not
	// subscribe to in its connectionData (it would not know the call).
	ErrNotSubscribed = errors.New("signalr send: client not subscribed to the hub")
	// ErrUnknownMethod, returned (or wrapped) by an Invoker, tells the page
	// SignalR's "'method' method could not be resolved."
	ErrUnknownMethod = errors.New("signalr invoke: unknown hub method")
)

// HubError is an error an Invoker returns for the page to see as a SignalR
// HubException: "E" is Message, "H" is true and "D" is Data, when not nil.
type HubError struct {
	Message string
	Data    any
}

// Error returns the message.
func (e *HubError) Error() string { return e.Message }

// Options configures a Server.
type Options struct {
	// Hubs are the hub names served, such as "signingHub"; pages name them
	// in any case.
	Hubs []string
	// Methods lists each hub's server methods (by hub name as in Hubs),
	// which the hub proxy script at /signalr/hubs offers pages as
	// $.connection.<hub>.server.<method>.
	Methods map[string][]string
	// AllowOrigin reports whether a page of this origin may load the hub
	// proxy script; it is asked for the origin in a script load's Referer
	// (a script load sends no Origin). nil allows every origin.
	AllowOrigin func(origin string) bool
	// Invoke runs hub methods; nil answers every invocation with "method
	// could not be resolved".
	Invoke Invoker
	// PollWait is how long a poll waits for messages (DefaultPollWait when
	// zero).
	PollWait time.Duration
	// InvokeTimeout bounds one hub method invocation (DefaultInvokeTimeout
	// when zero); signing waits for the user's PIN within it.
	InvokeTimeout time.Duration
	Logger        zerolog.Logger
	// Now is the clock idle connections are measured by (time.Now when nil).
	Now func() time.Time
	// MaxConns bounds the connections kept (DefaultMaxConns when zero).
	MaxConns int
}

// Server serves the SignalR endpoints; see the package documentation.
type Server struct {
	hubs          map[string]string   // lower-case name → name as configured
	methods       map[string][]string // hub name as configured → its server methods
	allow         func(origin string) bool
	invoke        Invoker
	pollWait      time.Duration
	invokeTimeout time.Duration
	keepAlive     time.Duration // between keep-alives on an event stream
	sweepEvery    time.Duration // between looks for idle connections
	log           zerolog.Logger
	now           func() time.Time
	maxConns      int

	mu          sync.Mutex
	conns       map[string]*Conn // by connection token
	closed      bool
	janitorStop chan struct{} // nil until the first connection
	janitorDone chan struct{}
}

// New makes a Server.
func New(opt Options) *Server {
	s := &Server{
		hubs:          map[string]string{},
		methods:       opt.Methods,
		allow:         opt.AllowOrigin,
		invoke:        opt.Invoke,
		pollWait:      opt.PollWait,
		invokeTimeout: opt.InvokeTimeout,
		keepAlive:     keepAliveInterval,
		sweepEvery:    sweepInterval,
		log:           opt.Logger.With().Str("component", "signalr").Logger(),
		now:           opt.Now,
		maxConns:      opt.MaxConns,
		conns:         map[string]*Conn{},
	}
	for _, h := range opt.Hubs {
		s.hubs[strings.ToLower(h)] = h
	}
	if s.pollWait <= 0 {
		s.pollWait = DefaultPollWait
	}
	if s.invokeTimeout <= 0 {
		s.invokeTimeout = DefaultInvokeTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxConns <= 0 {
		s.maxConns = DefaultMaxConns
	}
	return s
}

// Count is the number of connections the server holds.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close ends all connections, their invocations and pending polls; later
// requests get 503.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.conns
	s.conns = map[string]*Conn{}
	stop, done := s.janitorStop, s.janitorDone
	s.mu.Unlock()
	for _, c := range conns {
		c.end()
	}
	if stop != nil {
		close(stop)
		<-done
	}
}

// ServeHTTP answers one SignalR request; see the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")

	base, endpoint := splitEndpoint(r.URL.Path)
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, api.CodeBadRequest, "signalr: method "+r.Method+" not allowed")
		return
	}
	switch endpoint {
	case "hubs", "js":
		s.serveProxy(w, r, base)
		return
	case "negotiate", "connect", "reconnect", "poll", "start", "ping":
	case "send", "abort":
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, api.CodeBadRequest, "signalr "+endpoint+": method must be POST")
			return
		}
	default:
		writeError(w, http.StatusNotFound, api.CodeBadRequest, "signalr: no such endpoint: "+r.URL.Path)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "signalr "+endpoint+": malformed query string")
		return
	}
	if _, ok := q["callback"]; ok {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "signalr "+endpoint+": JSONP is not supported; use CORS")
		return
	}
	if endpoint == "ping" {
		writeJSON(w, http.StatusOK, response{Response: "pong"})
		return
	}
	if s.isClosed() {
		writeError(w, http.StatusServiceUnavailable, api.CodeBusy, "signalr "+endpoint+": server stopping")
		return
	}
	if endpoint == "negotiate" {
		s.negotiate(w, r, base, q)
		return
	}
	s.serveConn(w, r, endpoint, q)
}

// splitEndpoint splits a request path into the mount point and the
// endpoint: "/signalr/negotiate" → "/signalr", "negotiate".
func splitEndpoint(p string) (base, endpoint string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// supportedProtocols are the clientProtocol values negotiate accepts and
// echoes: jquery.signalR 2.0 to 2.4 send 1.3 to 2.1, and each expects its own
// version back.
var supportedProtocols = map[string]bool{"1.3": true, "1.4": true, "1.5": true, "2.0": true, "2.1": true}

// negotiate starts a connection.
func (s *Server) negotiate(w http.ResponseWriter, r *http.Request, base string, q url.Values) {
	proto, err := single(q, "clientProtocol")
	if err != nil || !supportedProtocols[proto] {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("signalr negotiate: unsupported clientProtocol %q (supported: 1.3 to 2.1)", truncate(proto, 16)))
		return
	}
	hubs, err := s.connectionHubs(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "signalr negotiate: "+err.Error())
		return
	}
	origin := r.Header.Get("Origin")
	if origin == "" && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		// A cross-site request without Origin is an <img> or <script>
		// include, never the SignalR client, which uses CORS.
		writeError(w, http.StatusForbidden, api.CodeOriginNotAllowed, "signalr negotiate: cross-site request without Origin")
		return
	}
	c, err := s.newConn(origin, hubs)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, api.CodeBusy, "signalr negotiate: "+err.Error())
		return
	}
	s.log.Debug().Str("conn", c.id).Str("origin", origin).Str("protocol", proto).Msg("negotiated")
	writeJSON(w, http.StatusOK, negotiateResponse{
		URL:                     base,
		ConnectionToken:         c.token,
		ConnectionID:            c.id,
		KeepAliveTimeout:        keepAliveTimeout.Seconds(),
		DisconnectTimeout:       disconnectTimeout.Seconds(),
		ConnectionTimeout:       connectionTimeout.Seconds(),
		TryWebSockets:           false,
		ProtocolVersion:         proto,
		TransportConnectTimeout: transportConnectTimeout.Seconds(),
		LongPollDelay:           0,
	})
}

// connectionHubs checks connectionData, [{"name":"signinghub"}], and returns
// the hubs it names as configured; it may be absent or empty.
func (s *Server) connectionHubs(q url.Values) ([]string, error) {
	vals := q["connectionData"]
	switch {
	case len(vals) == 0:
		return nil, nil
	case len(vals) > 1:
		return nil, errors.New("several connectionData parameters")
	case len(vals[0]) > maxConnectionData:
		return nil, fmt.Errorf("connectionData longer than %d bytes", maxConnectionData)
	case strings.TrimSpace(vals[0]) == "":
		return nil, nil
	}
	var infos []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(vals[0]), &infos); err != nil {
		return nil, errors.New("connectionData is not a JSON array of {\"name\":hub}")
	}
	var hubs []string
	for _, info := range infos {
		h, ok := s.hubs[strings.ToLower(info.Name)]
		if !ok {
			return nil, fmt.Errorf("'%s' Hub could not be resolved", truncate(info.Name, 64))
		}
		for _, seen := range hubs {
			if seen == h {
				return nil, errors.New("duplicate hub names found in connectionData")
			}
		}
		hubs = append(hubs, h)
	}
	return hubs, nil
}

// newConn makes and registers a connection, dropping the one idle longest
// when the server is full.
func (s *Server) newConn(origin string, hubs []string) (*Conn, error) {
	now := s.now()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		s:        s,
		id:       newID(),
		token:    newToken(),
		origin:   origin,
		hubs:     hubs,
		ctx:      ctx,
		cancel:   cancel,
		lastSeen: now,
		changed:  make(chan struct{}),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return nil, errors.New("server stopping")
	}
	var victim *Conn
	if len(s.conns) >= s.maxConns {
		var oldest time.Time
		for _, o := range s.conns {
			if seen, idle := o.idleSince(); idle && (victim == nil || seen.Before(oldest)) {
				victim, oldest = o, seen
			}
		}
		if victim == nil {
			s.mu.Unlock()
			cancel()
			return nil, fmt.Errorf("too many connections (%d), none idle", s.maxConns)
		}
		delete(s.conns, victim.token)
	}
	s.conns[c.token] = c
	if s.janitorStop == nil {
		s.janitorStop, s.janitorDone = make(chan struct{}), make(chan struct{})
		go s.janitor(s.janitorStop, s.janitorDone)
	}
	s.mu.Unlock()
	if victim != nil {
		victim.end()
		s.log.Info().Str("conn", victim.id).Str("origin", victim.origin).Int("max", s.maxConns).Msg("dropped the connection idle longest for a new one")
	}
	return c, nil
}

// janitor removes idle connections until stop is closed.
func (s *Server) janitor(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes the connections that have had no request in flight for
// disconnectTimeout, and returns how many.
func (s *Server) sweep() int {
	now := s.now()
	var gone []*Conn
	s.mu.Lock()
	for tok, c := range s.conns {
		if seen, idle := c.idleSince(); idle && now.Sub(seen) >= disconnectTimeout {
			gone = append(gone, c)
			delete(s.conns, tok)
		}
	}
	s.mu.Unlock()
	for _, c := range gone {
		c.end()
		s.log.Debug().Str("conn", c.id).Msg("removed idle connection")
	}
	return len(gone)
}

// CloseWhere ends every connection whose page origin (as negotiated)
// refuse reports true for, and returns how many it ended. Their polls and
// invocations end at once; the page's next request gets 403.
func (s *Server) CloseWhere(refuse func(origin string) bool) int {
	var gone []*Conn
	s.mu.Lock()
	for tok, c := range s.conns {
		if refuse(c.origin) {
			gone = append(gone, c)
			delete(s.conns, tok)
		}
	}
	s.mu.Unlock()
	for _, c := range gone {
		c.end()
	}
	return len(gone)
}

// remove forgets c and ends it.
func (s *Server) remove(c *Conn) {
	s.mu.Lock()
	if s.conns[c.token] == c {
		delete(s.conns, c.token)
	}
	s.mu.Unlock()
	c.end()
}

// lookup finds the connection a token names.
func (s *Server) lookup(token string) *Conn {
	if len(token) > maxTokenLen {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[token]
}

// serveConn answers the endpoints that name a connection.
func (s *Server) serveConn(w http.ResponseWriter, r *http.Request, endpoint string, q url.Values) {
	op := "signalr " + endpoint
	token, err := single(q, "connectionToken")
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, op+": "+err.Error())
		return
	}
	if token == "" {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, op+": missing connection token")
		return
	}
	transport, _ := single(q, "transport")
	if transport != longPolling && transport != serverSentEvents {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s: unsupported transport %q (longPolling or serverSentEvents)", op, truncate(transport, 32)))
		return
	}
	if _, err := s.connectionHubs(q); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, op+": "+err.Error())
		return
	}
	c := s.lookup(token)
	if c == nil {
		writeError(w, http.StatusForbidden, api.CodeBadRequest, op+": unknown or expired connection token")
		return
	}
	if origin := r.Header.Get("Origin"); origin != c.origin {
		s.log.Warn().Str("conn", c.id).Str("origin", origin).Str("negotiated", c.origin).Msg("connection token used from another origin")
		writeError(w, http.StatusForbidden, api.CodeOriginNotAllowed, op+": the connection belongs to another origin")
		return
	}
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeBadRequest, fmt.Sprintf("%s: request body larger than %d bytes", op, tooLarge.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, op+": malformed form body")
		return
	}
	if !c.enter(s.now()) {
		writeError(w, http.StatusForbidden, api.CodeBadRequest, op+": unknown or expired connection token")
		return
	}
	defer func() { c.leave(s.now()) }()

	switch endpoint {
	case "connect":
		if transport == serverSentEvents {
			s.stream(w, r, c, 0, true)
			return
		}
		msgs, last := c.queued()
		writeJSON(w, http.StatusOK, persistentResponse{C: formatCursor(last), S: 1, M: msgs})
	case "reconnect", "poll":
		cursor, err := parseCursor(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, op+": "+err.Error())
			return
		}
		switch {
		case transport == serverSentEvents && endpoint == "reconnect":
			s.stream(w, r, c, cursor, false)
		case transport == serverSentEvents:
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, op+": serverSentEvents does not poll")
		default:
			s.poll(w, r, c, cursor)
		}
	case "start":
		writeJSON(w, http.StatusOK, response{Response: "started"})
	case "send":
		s.send(w, r, c)
	case "abort":
		s.remove(c)
		s.log.Debug().Str("conn", c.id).Msg("aborted")
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// parseCursor reads messageId from the form body (longPolling) or the
// query (serverSentEvents); none is 0, before every message.
func parseCursor(r *http.Request) (uint64, error) {
	vals := r.PostForm["messageId"]
	if len(vals) == 0 {
		vals = r.Form["messageId"]
	}
	switch {
	case len(vals) == 0 || vals[0] == "":
		return 0, nil
	case len(vals) > 1:
		return 0, errors.New("several messageId values")
	}
	n, err := strconv.ParseUint(vals[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed messageId %q", truncate(vals[0], 32))
	}
	return n, nil
}

func formatCursor(n uint64) string { return strconv.FormatUint(n, 10) }

// longRequest lets a poll, stream write or invocation answer up to d from
// now even when the HTTP server has a shorter WriteTimeout. (A ReadTimeout
// needs nothing: net/http clears the read deadline once the body is read.)
func longRequest(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + writeMargin))
}

// writeMargin is the time allowed for writing an answer once it is ready.
const writeMargin = 10 * time.Second

// poll answers a longPolling poll or reconnect: the messages after cursor,
// at once when there are some, else when one is queued or after PollWait.
func (s *Server) poll(w http.ResponseWriter, r *http.Request, c *Conn, cursor uint64) {
	longRequest(w, s.pollWait)
	gen := c.beginPoll(cursor)
	timer := time.NewTimer(s.pollWait)
	defer timer.Stop()
	for {
		msgs, last, changed, over := c.pending(gen, cursor)
		if len(msgs) > 0 || over {
			writeJSON(w, http.StatusOK, persistentResponse{C: formatCursor(last), M: msgs})
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			writeJSON(w, http.StatusOK, persistentResponse{C: formatCursor(last), M: msgs})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// stream serves a serverSentEvents connect (init) or reconnect.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, c *Conn, cursor uint64, init bool) {
	rc := http.NewResponseController(w)
	gen := c.beginPoll(cursor)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	write := func(data []byte) bool {
		longRequest(w, 0)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("initialized")) {
		return
	}
	if init {
		b, _ := json.Marshal(persistentResponse{C: formatCursor(cursor), S: 1, M: []json.RawMessage{}})
		if !write(b) {
			return
		}
	}
	s.log.Debug().Str("conn", c.id).Bool("init", init).Msg("event stream open")
	keepAlive := time.NewTicker(s.keepAlive)
	defer keepAlive.Stop()
	for {
		msgs, last, changed, over := c.pending(gen, cursor)
		if len(msgs) > 0 {
			b, err := json.Marshal(persistentResponse{C: formatCursor(last), M: msgs})
			if err != nil || !write(b) {
				return
			}
			// What the stream has carried is delivered.
			c.ack(last)
			cursor = last
			continue
		}
		if over {
			return
		}
		select {
		case <-changed:
		case <-keepAlive.C:
			if !write([]byte("{}")) {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// single returns the one value of a query parameter ("" when absent), or
// an error when it is given more than once.
func single(q url.Values, key string) (string, error) {
	vals := q[key]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", fmt.Errorf("several %s parameters", key)
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// newToken returns a connection token: 256 random bits, base64url.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newID returns a connection id: a random UUID, as SignalR's are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
