package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
)

const testDomains = `# version: 7
https://my.esr.nhs.uk
https://*.spineservices.nhs.uk
http://localhost:8080
`

var (
	me    = peercred.User{ID: "uid:1000"}
	other = peercred.User{ID: "uid:1001"}
)

// testServer is a Server on a loopback port whose callers all appear to be
// the user in caller.
type testServer struct {
	*Server
	core   *agent.Core
	port   int
	caller atomic.Pointer[peercred.User]
	fail   atomic.Bool // the owner lookup fails
	logs   testutil.Buffer
	list   atomic.Pointer[domainlist.List] // the DomainList in force
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	list, bad := domainlist.Parse([]byte(testDomains))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	ts := &testServer{}
	ts.caller.Store(&me)
	ts.list.Store(list)
	ts.core = agent.New(agent.Options{})
	ts.Server = New(Options{
		Backend: ts.core,
		Domains: func() localhttp.DomainInfo {
			return localhttp.DomainInfo{List: ts.list.Load(), Source: "file:/etc/DomainList.txt"}
		},
		Self: me,
		PeerOwner: func(net.Conn) (peercred.User, error) {
			if ts.fail.Load() {
				return peercred.User{}, peercred.ErrNotFound
			}
			return *ts.caller.Load(), nil
		},
		Logger: zerolog.New(&ts.logs),
		// The status page's helpdesk check, without asking this machine.
		Diagnostics: func(context.Context) doctor.Report { return doctor.Report{Product: "cardbridge"} },
	})
	ts.serve(t)
	return ts
}

// serve serves ts on a loopback port of its own until the test ends.
func (ts *testServer) serve(t *testing.T) {
	t.Helper()
	lns, err := localhttp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.port = lns[0].Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx, lns...) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
}

// logText returns what the server has logged so far.
func (ts *testServer) logText() string { return ts.logs.String() }

func (ts *testServer) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", ts.port, path)
}

// do sends a request with the given headers ("Host" sets the Host header).
func (ts *testServer) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func errorCode(body []byte) string {
	var e api.ErrorBody
	_ = json.Unmarshal(body, &e)
	return string(e.Error.Code)
}

func TestGuard(t *testing.T) {
	ts := startServer(t)
	ts.core.Apply(pcsc.Event{Type: pcsc.Available})
	port := fmt.Sprint(ts.port)
	cases := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		status int
		code   string
		cors   bool
	}{
		{"no origin", "GET", "/api/readers", nil, 200, "", false},
		{"localhost host", "GET", "/api/versioninfo", map[string]string{"Host": "localhost:" + port}, 200, "", false},
		{"ipv6 host", "GET", "/api/versioninfo", map[string]string{"Host": "[::1]:" + port}, 200, "", false},
		{"upper-case localhost", "GET", "/api/versioninfo", map[string]string{"Host": "LOCALHOST:" + port}, 200, "", false},
		{"rebinding host", "GET", "/api/card", map[string]string{"Host": "evil.example:" + port}, 421, "HOST_NOT_ALLOWED", false},
		{"host without port", "GET", "/api/card", map[string]string{"Host": "localhost"}, 421, "HOST_NOT_ALLOWED", false},
		{"host with other port", "GET", "/api/card", map[string]string{"Host": "localhost:1"}, 421, "HOST_NOT_ALLOWED", false},
		{"allowed origin", "GET", "/api/card", map[string]string{"Origin": "https://my.esr.nhs.uk"}, 200, "", true},
		{"wildcard origin", "GET", "/api/card", map[string]string{"Origin": "https://a.b.spineservices.nhs.uk"}, 200, "", true},
		{"origin with port", "GET", "/api/card", map[string]string{"Origin": "http://localhost:8080"}, 200, "", true},
		{"evil origin", "GET", "/api/card", map[string]string{"Origin": "https://evil.example"}, 403, "ORIGIN_NOT_ALLOWED", false},
		{"look-alike origin", "GET", "/api/card", map[string]string{"Origin": "https://my.esr.nhs.uk.evil.example"}, 403, "ORIGIN_NOT_ALLOWED", false},
		{"http not https", "GET", "/api/card", map[string]string{"Origin": "http://my.esr.nhs.uk"}, 403, "ORIGIN_NOT_ALLOWED", false},
		{"null origin", "GET", "/api/card", map[string]string{"Origin": "null"}, 403, "ORIGIN_NOT_ALLOWED", false},
		{"evil origin preflight", "OPTIONS", "/api/card", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, 403, "ORIGIN_NOT_ALLOWED", false},
		{"unknown path", "GET", "/api/nothing", map[string]string{"Origin": "https://my.esr.nhs.uk"}, 404, "BAD_REQUEST", true},
		{"wrong method", "DELETE", "/api/card", nil, 404, "BAD_REQUEST", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := ts.do(t, c.method, c.path, c.hdr)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.code != "" && errorCode(body) != c.code {
				t.Errorf("code %q, want %s: %s", errorCode(body), c.code, body)
			}
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			if c.cors != (acao != "") {
				t.Errorf("Access-Control-Allow-Origin = %q, want CORS %v", acao, c.cors)
			}
			if c.cors {
				if acao != c.hdr["Origin"] || resp.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
					t.Errorf("CORS headers = %v", resp.Header)
				}
			}
			for _, h := range []string{"X-Content-Type-Options", "Cache-Control", "Content-Security-Policy"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
	if logs := ts.logText(); !strings.Contains(logs, `"reason":"Origin \"https://evil.example\" not on the DomainList"`) ||
		!strings.Contains(logs, `"code":"HOST_NOT_ALLOWED"`) {
		t.Errorf("refusals not logged with reasons:\n%s", logs)
	}
}

func TestPreflight(t *testing.T) {
	ts := startServer(t)
	resp, _ := ts.do(t, "OPTIONS", "/api/card", map[string]string{
		"Origin":                                 "https://my.esr.nhs.uk",
		"Access-Control-Request-Method":          "GET",
		"Access-Control-Request-Private-Network": "true",
	})
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://my.esr.nhs.uk" ||
		h.Get("Access-Control-Allow-Private-Network") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
		h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
	resp, _ = ts.do(t, "OPTIONS", "/api/card", map[string]string{"Origin": "https://my.esr.nhs.uk", "Access-Control-Request-Method": "GET"})
	if resp.Header.Get("Access-Control-Allow-Private-Network") != "" {
		t.Error("Private Network Access granted without being asked")
	}
}

func TestWrongUserIsRefusedEverywhere(t *testing.T) {
	ts := startServer(t)
	ts.caller.Store(&other)
	for _, path := range []string{"/", "/api/versioninfo", "/api/readers", "/api/card", "/api/events", "/cardbridge.js", "/nothing"} {
		resp, body := ts.do(t, "GET", path, map[string]string{"Origin": "https://my.esr.nhs.uk"})
		if resp.StatusCode != 403 || errorCode(body) != "WRONG_USER" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	// The WebSocket upgrade too.
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	_, resp, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", ts.port), http.Header{"Origin": {"https://my.esr.nhs.uk"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("WebSocket from another user: err %v, resp %v", err, resp)
	}
	if !strings.Contains(ts.logText(), `"reason":"caller is uid:1001, not uid:1000`) {
		t.Errorf("WRONG_USER not logged:\n%s", ts.logText())
	}
}

func TestOwnerLookupFailureRefuses(t *testing.T) {
	ts := startServer(t)
	ts.fail.Store(true)
	resp, body := ts.do(t, "GET", "/api/card", nil)
	if resp.StatusCode != 403 || errorCode(body) != "WRONG_USER" {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	// A caller whose socket is gone is refused but not logged as a stranger.
	logs := ts.logText()
	if !strings.Contains(logs, `"level":"info"`) || !strings.Contains(logs, "closed the connection") || strings.Contains(logs, `"level":"warn"`) {
		t.Errorf("vanished caller logged as:\n%s", logs)
	}
}

func TestReadersCardAndVersionInfo(t *testing.T) {
	ts := startServer(t)
	resp, body := ts.do(t, "GET", "/api/card", nil)
	if resp.StatusCode != 503 || errorCode(body) != "PCSC_UNAVAILABLE" {
		t.Errorf("card without PC/SC: %d %s", resp.StatusCode, body)
	}
	ts.core.Apply(pcsc.Event{Type: pcsc.Available})
	ts.core.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	resp, body = ts.do(t, "GET", "/api/card", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"present":false}` {
		t.Errorf("no card: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "GET", "/api/readers", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"readers":[{"name":"R0","cardPresent":false,"card":null}]}` {
		t.Errorf("readers: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	_, body = ts.do(t, "GET", "/api/versioninfo", nil)
	var vi api.VersionInfo
	if err := json.Unmarshal(body, &vi); err != nil {
		t.Fatal(err)
	}
	if vi.Product != "cardbridge" || vi.API != 1 || vi.Port != ts.port || vi.DomainList.Version != "7" ||
		vi.DomainList.Source != "file:/etc/DomainList.txt" || len(vi.DomainList.Entries) != 3 || vi.PortService.Connected {
		t.Errorf("versioninfo = %s", body)
	}
	for _, key := range []string{`"trustedUrl":{"url":"","latestVersion":"","checked":null,"updateAvailable":false}`, `"portService":{"connected":false}`, `"commit":`, `"os":`, `"arch":`} {
		if !strings.Contains(string(body), key) {
			t.Errorf("versioninfo lacks %s: %s", key, body)
		}
	}
}

func TestStatusPage(t *testing.T) {
	ts := startServer(t)
	ts.core.Apply(pcsc.Event{Type: pcsc.Available})
	ts.core.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "Virtual PCD 00 00"})
	resp, body := ts.do(t, "GET", "/", nil)
	page := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"Virtual PCD 00 00", "no card", fmt.Sprint(ts.port), "https://*.spineservices.nhs.uk", "file:/etc/DomainList.txt", ">7<", "running"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("status page has script")
	}
	for _, h := range []string{"X-Frame-Options", "Referrer-Policy", "Content-Security-Policy", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("status page has no %s", h)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	ts := startServer(t)
	big := strings.NewReader(strings.Repeat("x", localhttp.MaxBodyBytes+10))
	req, _ := http.NewRequest("POST", ts.url("/api/nothing"), big)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestEventStream(t *testing.T) {
	ts := startServer(t)
	ts.core.Apply(pcsc.Event{Type: pcsc.Available})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", ts.port), http.Header{"Origin": {"https://my.esr.nhs.uk"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://my.esr.nhs.uk" {
		t.Errorf("upgrade response headers %v", resp.Header)
	}
	read := func() map[string]any {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m map[string]any
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := read(); m["type"] != "snapshot" || m["pcscAvailable"] != true {
		t.Fatalf("first message %v", m)
	}
	ts.core.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
	if m := read(); m["type"] != "reader-added" || m["reader"] != "R0" || m["seq"].(float64) != 2 {
		t.Errorf("got %v", m)
	}
	// Refused upgrades: bad origin, bad host.
	_, resp, err = d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", ts.port), http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp.StatusCode != 403 {
		t.Errorf("evil origin upgrade: %v %v", err, resp)
	}
	_, resp, err = d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", ts.port), http.Header{"Host": {"evil.example"}})
	if err == nil || resp.StatusCode != 421 {
		t.Errorf("rebinding upgrade: %v %v", err, resp)
	}
}

// TestDomainListChangeClosesStreams: when a new DomainList drops an
// origin, its open event streams and SignalR connections end at once (a
// long poll under way included), and it is logged; other origins' stay.
func TestDomainListChangeClosesStreams(t *testing.T) {
	ts := startServer(t)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	dial := func(origin string) *websocket.Conn {
		t.Helper()
		conn, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", ts.port), http.Header{"Origin": {origin}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		var m map[string]any
		if err := conn.ReadJSON(&m); err != nil || m["type"] != "snapshot" {
			t.Fatalf("snapshot: %v %v", m, err)
		}
		return conn
	}
	dropped, kept := dial("https://my.esr.nhs.uk"), dial("https://a.spineservices.nhs.uk")

	// A SignalR connection from the dropped origin, with a poll waiting.
	sr := func(endpoint, token string, form url.Values) (int, string) {
		q := url.Values{"transport": {"longPolling"}, "clientProtocol": {"1.5"}, "connectionToken": {token}}
		req, _ := http.NewRequest("POST", ts.url("/signalr/"+endpoint+"?"+q.Encode()), strings.NewReader(form.Encode()))
		req.Header.Set("Origin", "https://my.esr.nhs.uk")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, neg := sr("negotiate", "", nil)
	var n struct{ ConnectionToken string }
	if err := json.Unmarshal([]byte(neg), &n); err != nil || n.ConnectionToken == "" {
		t.Fatalf("negotiate: %s", neg)
	}
	if code, body := sr("connect", n.ConnectionToken, url.Values{}); code != 200 {
		t.Fatalf("connect: %d %s", code, body)
	}
	polled := make(chan time.Time, 1)
	go func() { sr("poll", n.ConnectionToken, url.Values{"messageId": {"0"}}); polled <- time.Now() }()
	time.Sleep(100 * time.Millisecond) // the poll waits

	next, _ := domainlist.Parse([]byte("https://*.spineservices.nhs.uk\n"))
	ts.list.Store(next)
	changed := time.Now()
	ts.DomainsChanged()

	_ = dropped.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := dropped.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || time.Since(changed) > time.Second {
		t.Errorf("the dropped origin's stream: %v after %v, want a policy-violation close within a second", err, time.Since(changed))
	}
	select {
	case at := <-polled:
		if at.Sub(changed) > time.Second {
			t.Errorf("the waiting poll ended %v after the change", at.Sub(changed))
		}
	case <-time.After(5 * time.Second):
		t.Error("the waiting SignalR poll did not end")
	}
	ts.core.Apply(pcsc.Event{Type: pcsc.Available})
	_ = kept.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := kept.ReadJSON(&m); err != nil || m["type"] != "pcsc-available" {
		t.Errorf("the allowed origin's stream: %v %v", m, err)
	}
	if !strings.Contains(ts.logText(), "closed an event stream: its origin is no longer on the DomainList") ||
		!strings.Contains(ts.logText(), "closed SignalR connections whose origin is no longer on the DomainList") {
		t.Errorf("not logged:\n%s", ts.logText())
	}
}

// TestRequestToSignInAnyCase: SignalR matches hub method names in any case,
// as ASP.NET does ("RequestToSign" from a C#-style proxy), and a request
// that cannot be signed is answered malformed before anything else.
func TestRequestToSignInAnyCase(t *testing.T) {
	ts := startServer(t)
	for _, m := range []string{"requestToSign", "RequestToSign", "REQUESTTOSIGN"} {
		res, err := ts.invokeHub(context.Background(), nil, "signingHub", m, []json.RawMessage{json.RawMessage(`"%%%"`)})
		r, ok := res.(signResponse)
		if err != nil || !ok || r.StatusCode != statusMalformedRequest {
			t.Errorf("%s: %v %+v", m, err, res)
		}
	}
	if _, err := ts.invokeHub(context.Background(), nil, "signingHub", "requestToSignX", nil); err == nil {
		t.Error("an unknown method was run")
	}
}
