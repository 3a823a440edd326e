package browser

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeAgent stands in for the cardbridge agent: plain HTTP on 127.0.0.1
// with a JSON endpoint and a WebSocket, both allowing one origin only.
type fakeAgent struct {
	addr  string
	conns chan *websocket.Conn

	mu      sync.Mutex
	origins []string // Origin of each request, in arrival order
}

// newFakeAgent starts a fakeAgent that allows allowedOrigin, closed when t ends.
func newFakeAgent(t *testing.T, allowedOrigin string) *fakeAgent {
	a := &fakeAgent{conns: make(chan *websocket.Conn, 4)}
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") == allowedOrigin
	}}
	var live sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("/api/status", func(w http.ResponseWriter, r *http.Request) {
		a.saw(r)
		if r.Header.Get("Origin") == allowedOrigin {
			w.Header().Set("Access-Control-Allow-Origin", allowedOrigin)
			w.Header().Set("Vary", "Origin")
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ready","reader":"Virtual PCD 00 00"}`)
	})
	mux.HandleFunc("/api/events", func(w http.ResponseWriter, r *http.Request) {
		a.saw(r)
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		live.Add(1)
		defer live.Done()
		a.conns <- c
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				c.Close()
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	a.addr = strings.TrimPrefix(srv.URL, "http://")
	t.Cleanup(func() {
		srv.Close()
		for {
			select {
			case c := <-a.conns:
				c.Close()
				continue
			default:
			}
			break
		}
		done := make(chan struct{})
		go func() { live.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("fake agent: WebSocket handlers still running 5 s after close")
		}
	})
	return a
}

// saw records the Origin of r.
func (a *fakeAgent) saw(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.origins = append(a.origins, r.Header.Get("Origin"))
}

// seenOrigins returns the Origin of every request so far.
func (a *fakeAgent) seenOrigins() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.origins)
}

// conn waits for the page's WebSocket to reach the agent.
func (a *fakeAgent) conn(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case c := <-a.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("fake agent: no WebSocket connection within 10 s")
		return nil
	}
}

// agentPage is a page that calls the agent at addr as a web app would and
// reports each step with console.log.
func agentPage(addr string) string {
	return `<!doctype html>
<title>cardbridge harness</title>
<script src="/node_modules/axios/dist/axios.min.js"></script>
<script>
const agent = "` + addr + `";
console.log("axios " + typeof axios);
fetch("http://" + agent + "/api/status")
  .then((r) => r.json())
  .then((j) => console.log("fetch ok " + JSON.stringify(j)), (e) => console.log("fetch failed " + e));
const ws = new WebSocket("ws://" + agent + "/api/events");
ws.onopen = () => console.log("ws open");
ws.onmessage = (e) => console.log("ws message " + e.data);
ws.onerror = () => console.log("ws error");
ws.onclose = (e) => console.log("ws closed " + e.code);
</script>`
}

// prefix matches console text starting with p.
func prefix(p string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, p) }
}

// TestPageTalksToAgent: a page from the allow-listed origin fetches from and
// holds a WebSocket to a server on 127.0.0.1, and sees a pushed event in
// well under a second.
func TestPageTalksToAgent(t *testing.T) {
	Require(t)
	ps := NewPageServer(t, "my.esr.nhs.uk", "evil.example")
	origin := ps.Origin("my.esr.nhs.uk")
	if ps.Port() == 443 && origin != "https://my.esr.nhs.uk" {
		t.Fatalf("Origin = %q on port 443, want https://my.esr.nhs.uk", origin)
	}
	agent := newFakeAgent(t, origin)
	ps.HandleHTML("my.esr.nhs.uk", "/", agentPage(agent.addr))

	start := time.Now()
	p := Open(t, ps.URL("my.esr.nhs.uk", "/"), ps.Hosts()...)
	l, err := p.WaitConsole(60*time.Second, prefix("fetch "))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page fetched from the agent %v after Open", time.Since(start).Round(time.Millisecond))
	if want := `fetch ok {"status":"ready","reader":"Virtual PCD 00 00"}`; l.Text != want {
		t.Fatalf("page logged %q, want %q", l.Text, want)
	}
	if d := time.Since(l.T); d < -time.Second || d > 30*time.Second {
		t.Errorf("console timestamp %v is %v from now; want the page's wall-clock time", l.T, d)
	}
	if _, err := p.WaitConsole(5*time.Second, func(s string) bool { return s == "axios function" }); err != nil {
		t.Errorf("axios from /node_modules/: %v", err)
	}
	if _, err := p.WaitConsole(10*time.Second, func(s string) bool { return s == "ws open" }); err != nil {
		t.Fatal(err)
	}
	c := agent.conn(t)

	for i := range 3 {
		msg := fmt.Sprintf(`{"event":"card-removed","reader":"Virtual PCD 00 00","n":%d}`, i)
		sent := time.Now()
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("agent: write: %v", err)
		}
		l, err := p.WaitConsole(time.Second, func(s string) bool { return s == "ws message "+msg })
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		lag := l.T.Sub(sent)
		t.Logf("event %d: page logged it %v after the agent sent it (page clock)", i, lag)
		if lag > time.Second || lag < -50*time.Millisecond {
			t.Errorf("event %d: page logged it %v after it was sent, want within 1 s", i, lag)
		}
	}

	for _, o := range agent.seenOrigins() {
		if o != origin {
			t.Errorf("agent saw Origin %q, want exactly %q", o, origin)
		}
	}
	if n := len(agent.seenOrigins()); n != 2 {
		t.Errorf("agent saw %d requests, want 2 (fetch and WebSocket)", n)
	}
	for _, l := range p.Lines() {
		if l.Kind == "pageerror" || l.Kind == "requestfailed" || l.Kind == "error" {
			t.Errorf("unexpected %s", l)
		}
	}
}

// TestForeignOriginRefused: a page from an origin the agent does not allow
// reaches it, but CORS keeps the answer from the page and the WebSocket
// upgrade is refused.
func TestForeignOriginRefused(t *testing.T) {
	Require(t)
	ps := NewPageServer(t, "my.esr.nhs.uk", "evil.example")
	agent := newFakeAgent(t, ps.Origin("my.esr.nhs.uk"))
	ps.HandleHTML("evil.example", "/", agentPage(agent.addr))

	p := Open(t, ps.URL("evil.example", "/"), ps.Hosts()...)
	l, err := p.WaitConsole(60*time.Second, prefix("fetch "))
	if err != nil {
		t.Fatal(err)
	}
	if l.Text != "fetch failed TypeError: Failed to fetch" {
		t.Fatalf("page logged %q, want the fetch to fail", l.Text)
	}
	if _, err := p.WaitConsole(5*time.Second, func(s string) bool { return strings.Contains(s, "blocked by CORS policy") }); err != nil {
		t.Errorf("no CORS error in the console: %v", err)
	}
	if _, err := p.WaitConsole(10*time.Second, prefix("ws closed ")); err != nil {
		t.Errorf("WebSocket from a foreign origin: %v", err)
	}
	if _, err := p.WaitConsole(0, func(s string) bool { return s == "ws open" }); err == nil {
		t.Errorf("WebSocket from a foreign origin opened")
	}
	evil := ps.Origin("evil.example")
	if got := agent.seenOrigins(); len(got) == 0 || slices.ContainsFunc(got, func(o string) bool { return o != evil }) {
		t.Errorf("agent saw Origins %q, want only %q", got, evil)
	}
}

// TestLocalNetworkAccess: a page served as a public address is held to
// Chromium's Local Network Access checks (fetch and WebSocket to loopback
// blocked before they are sent) unless local-network-access is granted.
func TestLocalNetworkAccess(t *testing.T) {
	Require(t)
	for _, tc := range []struct {
		name  string
		grant []string
		ok    bool
	}{
		{name: "not granted", ok: false},
		{name: "granted", grant: []string{"local-network-access"}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := NewPageServer(t, "my.esr.nhs.uk")
			agent := newFakeAgent(t, ps.Origin("my.esr.nhs.uk"))
			ps.HandleHTML("my.esr.nhs.uk", "/", agentPage(agent.addr))
			p := OpenWith(t, ps.URL("my.esr.nhs.uk", "/"), Options{Hosts: ps.Hosts(), Public: true, Grant: tc.grant})
			l, err := p.WaitConsole(60*time.Second, prefix("fetch "))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.HasPrefix(l.Text, "fetch ok "); got != tc.ok {
				t.Errorf("page logged %q, want fetch ok = %v", l.Text, tc.ok)
			}
			want := "ws open"
			if !tc.ok {
				want = "ws error"
			}
			if _, err := p.WaitConsole(10*time.Second, func(s string) bool { return s == want }); err != nil {
				t.Errorf("want %q: %v", want, err)
			}
			if !tc.ok {
				if _, err := p.Wait(5*time.Second, func(l Line) bool {
					return l.Kind == "websocket" && strings.Contains(l.Error, "ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS")
				}); err != nil {
					t.Errorf("WebSocket not blocked by Local Network Access: %v", err)
				}
				if got := agent.seenOrigins(); len(got) != 0 {
					t.Errorf("agent saw %d requests from a blocked page, want none", len(got))
				}
			}
		})
	}
}

// TestDriverFailureIsReported: a page that cannot load ends the driver and
// a waiting test hears why at once, instead of waiting out its timeout.
func TestDriverFailureIsReported(t *testing.T) {
	Require(t)
	start := time.Now()
	p := Open(t, "https://127.0.0.1:1/")
	_, err := p.WaitConsole(20*time.Second, func(string) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "ERR_UNSAFE_PORT") {
		t.Fatalf("WaitConsole = %v, want the driver's navigation error", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("failure took %v to report", d)
	}
}

// TestPageServer checks virtual hosts, origins and the certificate without a browser.
func TestPageServer(t *testing.T) {
	ps := NewPageServer(t, "my.esr.nhs.uk", "Evil.Example")
	ps.HandleHTML("my.esr.nhs.uk", "/", "<p>esr</p>")
	ps.Handle("evil.example", "/x.json", "application/json", []byte(`{"evil":true}`))
	ps.HandleHost("evil.example", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fallback "+r.URL.Path)
	}))

	if got, want := ps.Hosts(), []string{"evil.example", "my.esr.nhs.uk"}; !slices.Equal(got, want) {
		t.Errorf("Hosts() = %q, want %q", got, want)
	}
	wantOrigin := fmt.Sprintf("https://my.esr.nhs.uk:%d", ps.Port())
	if ps.Port() == 443 {
		wantOrigin = "https://my.esr.nhs.uk"
	}
	if got := ps.Origin("MY.esr.nhs.uk"); got != wantOrigin {
		t.Errorf("Origin = %q, want %q", got, wantOrigin)
	}
	if got := ps.URL("my.esr.nhs.uk", "/a"); got != wantOrigin+"/a" {
		t.Errorf("URL = %q, want %q", got, wantOrigin+"/a")
	}

	c := ps.Client()
	for _, tc := range []struct {
		host, path string
		status     int
		body, ct   string
	}{
		{"my.esr.nhs.uk", "/", 200, "<p>esr</p>", "text/html; charset=utf-8"},
		{"my.esr.nhs.uk", "/nope", 404, "404 page not found\n", ""},
		{"my.esr.nhs.uk", "/favicon.ico", 204, "", ""},
		{"evil.example", "/x.json", 200, `{"evil":true}`, "application/json"},
		{"evil.example", "/other", 200, "fallback /other", ""},
		{"unknown.example", "/", http.StatusMisdirectedRequest, "", ""},
	} {
		resp, err := c.Get(ps.URL(tc.host, tc.path))
		if err != nil {
			t.Errorf("GET %s%s: %v", tc.host, tc.path, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) || (tc.ct != "" && resp.Header.Get("Content-Type") != tc.ct) {
			t.Errorf("GET %s%s = %d %q %q, want %d %q %q", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.status, tc.ct, tc.body)
		}
		if tc.status == 200 {
			if names := resp.TLS.PeerCertificates[0].DNSNames; !slices.Contains(names, tc.host) {
				t.Errorf("certificate for %s names %q", tc.host, names)
			}
		}
	}

	// A name first seen in the TLS handshake gets a certificate of its own.
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ps.Port()), &tls.Config{ServerName: "late.example", InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS to late.example: %v", err)
	}
	if names := conn.ConnectionState().PeerCertificates[0].DNSNames; !slices.Contains(names, "late.example") {
		t.Errorf("certificate for late.example names %q", names)
	}
	conn.Close()

	pkg := filepath.Join(Dir, "node_modules", "playwright-core", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		t.Logf("skipping /node_modules/ check: %v", err)
		return
	}
	resp, err := c.Get(ps.URL("evil.example", "/node_modules/playwright-core/package.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct{ Name string }
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || meta.Name != "playwright-core" {
		t.Errorf("/node_modules/playwright-core/package.json: name %q, %v", meta.Name, err)
	}
}

// TestParseLine checks how driver output becomes Lines.
func TestParseLine(t *testing.T) {
	l := parseLine(`{"t":1700000000123.5,"kind":"console","type":"log","text":"hi","page":"https://a/"}`)
	if l.Kind != "console" || l.Type != "log" || l.Text != "hi" || l.Page != "https://a/" {
		t.Errorf("parseLine = %+v", l)
	}
	if want := time.UnixMilli(1700000000123).Add(500 * time.Microsecond); !l.T.Equal(want) {
		t.Errorf("T = %v, want %v", l.T, want)
	}
	if l := parseLine("not json"); l.Kind != "raw" || l.Text != "not json" {
		t.Errorf("parseLine(non-JSON) = %+v", l)
	}
}

// TestEvalAndScreenshot: --eval reports each expression's result, in
// order, and --screenshot a PNG of the whole page, after the page loads.
func TestEvalAndScreenshot(t *testing.T) {
	Require(t)
	ps := NewPageServer(t, "page.test")
	ps.HandleHTML("page.test", "/", `<!doctype html><title>t</title><p id="x">hello</p><div style="height:1500px"></div>`)
	p := OpenWith(t, ps.URL("page.test", "/"), Options{
		Hosts:      ps.Hosts(),
		Eval:       []string{`document.getElementById("x").textContent`, `({h: document.documentElement.scrollHeight > 1500})`, `nosuchname`},
		Screenshot: true,
	})
	var text string
	if err := p.Eval(30*time.Second, &text); err != nil || text != "hello" {
		t.Fatalf("first eval: %q, %v", text, err)
	}
	var tall struct{ H bool }
	if err := p.Eval(5*time.Second, &tall); err != nil || !tall.H {
		t.Fatalf("second eval: %+v, %v", tall, err)
	}
	if err := p.Eval(5*time.Second, &text); err == nil || !strings.Contains(err.Error(), "nosuchname") {
		t.Errorf("an expression that throws: %v", err)
	}
	png, err := p.Screenshot(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
		t.Errorf("screenshot of %d bytes starting %q", len(png), png[:min(8, len(png))])
	}
}
