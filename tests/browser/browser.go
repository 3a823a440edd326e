// Package browser lets cardbridge's integration tests run a web page in
// headless Debian Chromium as if it came from a real https origin (for
// example https://my.esr.nhs.uk), let the page's own JavaScript call a
// server on 127.0.0.1 with fetch and WebSocket, and watch what the page
// reports, live.
//
// A PageServer serves the test's pages over https on 127.0.0.1 (port 443
// when it can bind it, so origins have no port), and Open starts
// driver.mjs, a playwright-core script in this directory, which launches
// /usr/bin/chromium with those host names mapped to 127.0.0.1 and streams
// the page's console messages, errors and failed requests back as Lines.
//
// The tests run only when CARDBRIDGE_TEST_BROWSER=1 (see Require);
// setup.sh in this directory installs Chromium, Node.js and node_modules.
package browser

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// EnvVar enables the browser tests when set to "1".
const EnvVar = "CARDBRIDGE_TEST_BROWSER"

// outputLimit bounds what is kept of the page server's errors and the
// driver's stderr, for a test's log.
const outputLimit = 1 << 20

// Chromium is the browser the tests drive: Debian's package, never a download.
const Chromium = "/usr/bin/chromium"

// Dir is the directory holding driver.mjs, package.json and node_modules.
var Dir = findDir()

// setupHint says how to install what the browser tests need.
const setupHint = "run tests/browser/setup.sh (apt-get install -y chromium nodejs npm; npm ci in tests/browser)"

// findDir locates this package's source directory: from the compiled-in
// file name, or, when built with -trimpath, from the module root above the
// working directory.
func findDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return filepath.Dir(file)
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "tests", "browser")
		}
		parent := filepath.Dir(d)
		if parent == d {
			return filepath.Join(wd, "tests", "browser")
		}
		d = parent
	}
}

// Require skips tb unless browser tests are enabled, and fails it when they
// are enabled but Chromium, node or node_modules is missing.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvVar) != "1" {
		tb.Skipf("needs headless Chromium: set %s=1 (after tests/browser/setup.sh), or run ./scripts/test", EnvVar)
	}
	if runtime.GOOS != "linux" {
		tb.Skipf("browser tests run on Linux only (Debian's %s)", Chromium)
	}
	if err := Check(); err != nil {
		tb.Fatal(err)
	}
}

// Check reports what this host lacks to run the browser tests, or nil.
func Check() error {
	var missing []string
	if fi, err := os.Stat(Chromium); err != nil || fi.IsDir() {
		missing = append(missing, Chromium+" (apt-get install -y chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(Dir, "driver.mjs")); err != nil {
		missing = append(missing, filepath.Join(Dir, "driver.mjs")+" (this package's source directory)")
	}
	if _, err := os.Stat(filepath.Join(Dir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, filepath.Join(Dir, "node_modules")+" (cd tests/browser && npm ci)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("browser tests enabled (%s=1) but missing: %s; %s", EnvVar, strings.Join(missing, ", "), setupHint)
	}
	return nil
}

// PageServer is an https server on 127.0.0.1 that serves test pages for
// named virtual hosts, with a throw-away self-signed certificate, and
// /node_modules/... from this directory's node_modules for every host.
type PageServer struct {
	t    testing.TB
	ln   net.Listener
	srv  *http.Server
	port int
	key  *ecdsa.PrivateKey
	errs testutil.Buffer

	mu    sync.Mutex
	hosts map[string]*vhost
	certs map[string]*tls.Certificate
	pool  *x509.CertPool
}

// vhost is what a PageServer serves for one host name.
type vhost struct {
	files   map[string]staticFile
	handler http.Handler
}

// staticFile is a body registered with Handle.
type staticFile struct {
	contentType string
	body        []byte
}

// NewPageServer starts a PageServer for hosts on 127.0.0.1:443, or on a
// free port when 443 cannot be bound, and closes it when t ends.
func NewPageServer(t testing.TB, hosts ...string) *PageServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("browser: page server key: %v", err)
	}
	s := &PageServer{
		t:     t,
		errs:  testutil.Buffer{Limit: outputLimit},
		key:   key,
		hosts: map[string]*vhost{},
		certs: map[string]*tls.Certificate{},
		pool:  x509.NewCertPool(),
	}
	for _, h := range hosts {
		s.vhost(h)
	}
	// NHS origins are on the default port. Test packages run side by side,
	// and another package's page server may hold 443 for the length of
	// one of its tests: wait for it (bounded) rather than give up at once.
	ln, err := net.Listen("tcp", "127.0.0.1:443")
	for deadline := time.Now().Add(time.Minute); err != nil && errors.Is(err, syscall.EADDRINUSE) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		ln, err = net.Listen("tcp", "127.0.0.1:443")
	}
	if err != nil {
		t.Logf("browser: page server cannot bind 127.0.0.1:443 (%v); using a free port, so origins carry it", err)
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("browser: page server listen: %v", err)
		}
	}
	s.ln = ln
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(&s.errs, "pageserver: ", 0),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.getCertificate,
		},
	}
	go s.srv.ServeTLS(ln, "", "")
	t.Cleanup(func() {
		s.Close()
		if t.Failed() && s.errs.Len() > 0 {
			t.Logf("browser: page server errors:\n%s", s.errs.String())
		}
	})
	return s
}

// vhost returns the state for host, creating it; s.mu must not be held.
func (s *PageServer) vhost(host string) *vhost {
	host = strings.ToLower(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.hosts[host]
	if v == nil {
		v = &vhost{files: map[string]staticFile{}}
		s.hosts[host] = v
	}
	return v
}

// Handle serves body with contentType at path on host (adding host if new).
func (s *PageServer) Handle(host, path, contentType string, body []byte) {
	v := s.vhost(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	v.files[path] = staticFile{contentType: contentType, body: body}
}

// HandleHTML serves an HTML page at path on host.
func (s *PageServer) HandleHTML(host, path, html string) {
	s.Handle(host, path, "text/html; charset=utf-8", []byte(html))
}

// HandleHost sets the handler for host's requests that no Handle path matches.
func (s *PageServer) HandleHost(host string, h http.Handler) {
	v := s.vhost(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	v.handler = h
}

// Hosts returns the host names the server serves, sorted, for Open.
func (s *PageServer) Hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	hosts := make([]string, 0, len(s.hosts))
	for h := range s.hosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// Port returns the port the server listens on (443 when it could bind it).
func (s *PageServer) Port() int { return s.port }

// Origin returns the exact Origin a page from host sends, such as
// "https://my.esr.nhs.uk", or "https://my.esr.nhs.uk:PORT" off port 443.
func (s *PageServer) Origin(host string) string {
	host = strings.ToLower(host)
	if s.port == 443 {
		return "https://" + host
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(s.port))
}

// URL returns the address of path on host, for Open.
func (s *PageServer) URL(host, path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return s.Origin(host) + path
}

// Client returns an http.Client that reaches every host of s on 127.0.0.1
// and trusts its certificate, for checking pages without a browser.
func (s *PageServer) Client() *http.Client {
	port := strconv.Itoa(s.port)
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, "127.0.0.1:"+port)
			},
			TLSClientConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
		},
	}
}

// Close stops the server; it is also called when the test ends.
func (s *PageServer) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// ServeHTTP routes a request by its Host to /node_modules/, a Handle path
// or the host's handler.
func (s *PageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, "/node_modules/") {
		http.StripPrefix("/node_modules", http.FileServer(http.Dir(filepath.Join(Dir, "node_modules")))).ServeHTTP(w, r)
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	s.mu.Lock()
	v := s.hosts[host]
	var (
		f       staticFile
		ok      bool
		handler http.Handler
	)
	if v != nil {
		f, ok = v.files[r.URL.Path]
		handler = v.handler
	}
	s.mu.Unlock()
	switch {
	case v == nil:
		http.Error(w, "browser.PageServer: unknown host "+host, http.StatusMisdirectedRequest)
	case ok:
		w.Header().Set("Content-Type", f.contentType)
		w.Write(f.body)
	case handler != nil:
		handler.ServeHTTP(w, r)
	case r.URL.Path == "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// getCertificate returns a certificate naming the requested host (and
// every host known so far), minting one the first time a name is seen.
func (s *PageServer) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(hello.ServerName)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.certs[name]; c != nil {
		return c, nil
	}
	names := []string{}
	for h := range s.hosts {
		names = append(names, h)
	}
	if name != "" && s.hosts[name] == nil {
		names = append(names, name)
	}
	sort.Strings(names)
	c, err := selfSigned(s.key, names)
	if err != nil {
		return nil, err
	}
	s.certs[name] = c
	s.pool.AddCert(c.Leaf)
	return c, nil
}

// selfSigned makes a one-day certificate for names and 127.0.0.1.
func selfSigned(key *ecdsa.PrivateKey, names []string) (*tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	cn := "cardbridge test page server"
	if len(names) > 0 {
		cn = names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"cardbridge tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Line is one event reported by the driver: a console message ("console"),
// an uncaught exception ("pageerror"), a request started ("request", with
// Options.Requests), a failed request ("requestfailed"),
// a WebSocket created, closed or failing ("websocket"), "loaded", "closed",
// "launched", "crash", or the driver's own failure ("error").
type Line struct {
	Kind  string    `json:"kind"`
	Type  string    `json:"type,omitempty"`
	Text  string    `json:"text,omitempty"`
	URL   string    `json:"url,omitempty"`
	Page  string    `json:"page,omitempty"`
	Error string    `json:"error,omitempty"`
	Data  string    `json:"data,omitempty"` // a screenshot's base64 PNG
	T     time.Time `json:"-"`
	Raw   string    `json:"-"`
}

// String formats l for test logs.
func (l Line) String() string {
	var b strings.Builder
	b.WriteString(l.T.Format("15:04:05.000 "))
	b.WriteString(l.Kind)
	for _, f := range []string{l.Type, l.Text, l.URL, l.Error} {
		if f != "" {
			b.WriteString(" ")
			b.WriteString(strconv.Quote(f))
		}
	}
	return b.String()
}

// Options configures OpenWith.
type Options struct {
	// Hosts are names the browser resolves to 127.0.0.1.
	Hosts []string
	// Args are extra Chromium flags. Chromium keeps only the last
	// --disable-features and --enable-features, so either replaces
	// playwright-core's own list; prefer Grant for Local Network Access.
	Args []string
	// Grant lists permissions granted to every origin, such as
	// "local-network-access", which lets a Public page reach 127.0.0.1.
	Grant []string
	// Public makes Chromium treat the page's server (127.0.0.1 at the
	// URL's port) as a public internet address, so Local Network Access
	// checks apply to the page's requests to 127.0.0.1 as they do for a
	// real site; by default the page is itself on loopback and they don't.
	Public bool
	// Timeout bounds launching Chromium and loading the page (default 30 s).
	Timeout time.Duration
	// Eval are JavaScript expressions evaluated in the page once it has
	// loaded, each reported as an "eval" Line holding its result as JSON
	// (see Page.Eval).
	Eval []string
	// Screenshot asks for a full-page PNG of the page once it has loaded
	// (see Page.Screenshot).
	Screenshot bool
	// Requests reports every request the page makes as a "request" Line
	// (Type the method, URL the address), refused ones too.
	Requests bool
	// Prepare, when set, adjusts the driver's command before it starts:
	// to run the browser as another OS user, say, with an environment of
	// that user's.
	Prepare func(*exec.Cmd)
}

// Page is a page open in headless Chromium, with what it has reported.
type Page struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr testutil.Buffer
	exited chan struct{} // closed when the driver has exited
	ended  chan struct{} // closed when all its output has been read
	once   sync.Once

	mu      sync.Mutex
	lines   []Line
	taken   []bool
	changed chan struct{} // closed and replaced whenever lines grows
	waitErr error
}

// Open opens url in a new headless Chromium, resolving hosts to 127.0.0.1,
// and closes it when t ends.
func Open(t testing.TB, url string, hosts ...string) *Page {
	t.Helper()
	return OpenWith(t, url, Options{Hosts: hosts})
}

// OpenWith is Open with extra Chromium flags, permissions or a timeout.
func OpenWith(t testing.TB, url string, opts Options) *Page {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	args := []string{filepath.Join(Dir, "driver.mjs"), "--timeout", strconv.FormatInt(opts.Timeout.Milliseconds(), 10)}
	for _, h := range opts.Hosts {
		args = append(args, "--host", h)
	}
	if opts.Public {
		u, err := neturl.Parse(url)
		if err != nil {
			t.Fatalf("browser: page URL %q: %v", url, err)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
		}
		args = append(args, "--arg=--ip-address-space-overrides=127.0.0.1:"+port+"=public")
	}
	for _, a := range opts.Args {
		args = append(args, "--arg="+a)
	}
	for _, g := range opts.Grant {
		args = append(args, "--grant", g)
	}
	for _, e := range opts.Eval {
		args = append(args, "--eval", e)
	}
	if opts.Screenshot {
		args = append(args, "--screenshot")
	}
	if opts.Requests {
		args = append(args, "--requests")
	}
	args = append(args, "--", url)

	p := &Page{
		t:       t,
		stderr:  testutil.Buffer{Limit: outputLimit},
		exited:  make(chan struct{}),
		ended:   make(chan struct{}),
		changed: make(chan struct{}),
	}
	p.cmd = exec.Command("node", args...)
	p.cmd.Dir = Dir
	p.cmd.Stderr = &p.stderr
	pr, pw := io.Pipe()
	p.cmd.Stdout = pw
	p.cmd.WaitDelay = 2 * time.Second
	if opts.Prepare != nil {
		opts.Prepare(p.cmd)
	}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatalf("browser: driver stdin: %v", err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("browser: start node driver.mjs: %v (%s)", err, setupHint)
	}
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
		pw.Close()
	}()
	go p.read(pr)
	t.Cleanup(func() {
		if t.Failed() {
			p.dump()
		}
	})
	t.Cleanup(p.Close)
	return p
}

// read turns the driver's stdout into Lines until it ends.
func (p *Page) read(r io.Reader) {
	defer close(p.ended)
	br := bufio.NewReader(r)
	for {
		s, err := br.ReadString('\n')
		if s = strings.TrimRight(s, "\r\n"); s != "" {
			p.add(parseLine(s))
		}
		if err != nil {
			p.mu.Lock()
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
			return
		}
	}
}

// parseLine decodes one JSON line; other text becomes a "raw" Line.
func parseLine(s string) Line {
	var l Line
	var ts struct {
		T float64 `json:"t"`
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil || l.Kind == "" {
		return Line{Kind: "raw", Text: s, T: time.Now(), Raw: s}
	}
	if json.Unmarshal([]byte(s), &ts) == nil && ts.T > 0 {
		ms := math.Floor(ts.T)
		l.T = time.UnixMilli(int64(ms)).Add(time.Duration(math.Round((ts.T - ms) * 1e6)))
	} else {
		l.T = time.Now()
	}
	l.Raw = s
	return l
}

// add records l and wakes waiters.
func (p *Page) add(l Line) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, l)
	p.taken = append(p.taken, false)
	close(p.changed)
	p.changed = make(chan struct{})
}

// Wait returns the first line not yet returned by Next or a Wait that
// satisfies match, waiting up to timeout; the lines it passes over stay
// available to later calls and in Lines.
func (p *Page) Wait(timeout time.Duration, match func(Line) bool) (Line, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		p.mu.Lock()
		lines := p.lines
		changed := p.changed
		p.mu.Unlock()
		for ; next < len(lines); next++ {
			if !match(lines[next]) {
				continue
			}
			p.mu.Lock()
			free := !p.taken[next]
			p.taken[next] = true
			p.mu.Unlock()
			if free {
				return lines[next], nil
			}
		}
		select {
		case <-p.ended:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if n > next {
				continue
			}
			return Line{}, p.exitError()
		default:
		}
		select {
		case <-changed:
		case <-p.ended:
		case <-deadline.C:
			return Line{}, fmt.Errorf("browser: no matching line from the page within %v", timeout)
		}
	}
}

// exitError describes why the driver stopped before a wanted line came.
func (p *Page) exitError() error {
	<-p.exited
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := "browser: driver exited before a matching line"
	for _, l := range p.lines {
		if l.Kind == "error" {
			msg += ": " + l.Error
		}
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s (%w)", msg, p.waitErr)
	}
	return errors.New(msg)
}

// WaitConsole returns the first console line not yet returned whose text
// satisfies match, waiting up to timeout.
func (p *Page) WaitConsole(timeout time.Duration, match func(text string) bool) (Line, error) {
	return p.Wait(timeout, func(l Line) bool { return l.Kind == "console" && match(l.Text) })
}

// Eval waits up to timeout for the result of the next Options.Eval
// expression and decodes it into v.
func (p *Page) Eval(timeout time.Duration, v any) error {
	l, err := p.Wait(timeout, func(l Line) bool { return l.Kind == "eval" })
	if err != nil {
		return err
	}
	if l.Error != "" {
		return fmt.Errorf("browser: eval in %s: %s", l.Page, l.Error)
	}
	if err := json.Unmarshal([]byte(l.Text), v); err != nil {
		return fmt.Errorf("browser: eval result %.200q: %w", l.Text, err)
	}
	return nil
}

// Screenshot waits up to timeout for the page's screenshot (with
// Options.Screenshot) and returns the PNG.
func (p *Page) Screenshot(timeout time.Duration) ([]byte, error) {
	l, err := p.Wait(timeout, func(l Line) bool { return l.Kind == "screenshot" })
	if err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(l.Data)
	if err != nil {
		return nil, fmt.Errorf("browser: screenshot: %w", err)
	}
	return png, nil
}

// Lines returns every line the driver has reported so far.
func (p *Page) Lines() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Line(nil), p.lines...)
}

// Close closes the browser: it closes the driver's stdin, waits up to 5 s
// for it to exit, then kills it. It is also called when the test ends.
func (p *Page) Close() {
	p.once.Do(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			p.t.Logf("browser: driver did not exit within 5 s of stdin closing; killing it")
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(2 * time.Second):
				p.cmd.Process.Kill()
				select {
				case <-p.exited:
				case <-time.After(5 * time.Second):
					p.t.Errorf("browser: driver pid %d survived SIGKILL for 5 s", p.cmd.Process.Pid)
				}
			}
		}
		select {
		case <-p.ended:
		case <-time.After(5 * time.Second):
		}
	})
}

// dump logs the driver's stderr and every line, for a failed test.
func (p *Page) dump() {
	p.t.Logf("browser: driver stderr:\n%s", p.stderr.String())
	for _, l := range p.Lines() {
		p.t.Logf("browser: %s", l)
	}
}
