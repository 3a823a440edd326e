package signalr_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/signalr"
	"github.com/cardbridge/cardbridge/tests/browser"
)

// TestE2E runs signalr-no-jquery from npm in headless Chromium, on a page
// from https://my.esr.nhs.uk, against the Server behind the agent's Guard
// on loopback: connect, invoke signingHub.requestToSign, receive a client
// hub call, see hub errors, stay connected across polls and stop.
func TestE2E(t *testing.T) {
	browser.Require(t)
	for _, tc := range []struct {
		name, transport, want string
		subscribe             bool
	}{
		// As the brief's NHS pages do: no client hub methods, so
		// connectionData is [] and nothing comes by poll.
		{"longPolling", "longPolling", "longPolling", false},
		{"longPolling+subscribed", "longPolling", "longPolling", true},
		// No transport named: signalr-no-jquery tries webSockets anyway
		// (its inArray shim ignores TryWebSockets), is refused with 400,
		// then uses serverSentEvents.
		{"auto+subscribed", "auto", "serverSentEvents", true},
	} {
		t.Run(tc.name, func(t *testing.T) { runE2E(t, tc.transport, tc.want, tc.subscribe) })
	}
}

func runE2E(t *testing.T, transport, wantTransport string, subscribe bool) {
	const host = "my.esr.nhs.uk"
	ps := browser.NewPageServer(t, host)
	origin := ps.Origin(host)

	list, bad := domainlist.Parse([]byte(origin + "\n"))
	if len(bad) > 0 {
		t.Fatalf("DomainList %q: %v", origin, bad)
	}
	guard := testGuard(list)

	var mu sync.Mutex
	var origins []string
	invoke := func(ctx context.Context, c *signalr.Conn, hub, method string, args []json.RawMessage) (any, error) {
		mu.Lock()
		origins = append(origins, c.Origin())
		mu.Unlock()
		switch {
		case hub == "signingHub" && strings.EqualFold(method, "requestToSign"):
			err := c.Send(hub, "progress", "signing for "+c.Origin())
			if err != nil && (subscribe || !errors.Is(err, signalr.ErrNotSubscribed)) {
				return nil, err
			}
			return map[string]any{"echo": args, "origin": c.Origin()}, nil
		case strings.EqualFold(method, "refuse"):
			return nil, &signalr.HubError{Message: "no card", Data: map[string]int{"status_code": 0x53494705}}
		}
		return nil, signalr.ErrUnknownMethod
	}
	srv, port := serveE2E(t, guard, invoke)

	page, err := os.ReadFile("testdata/e2e.html")
	if err != nil {
		t.Fatal(err)
	}
	const payload = "eyJhbGdvcml0aG0iOiJSUzI1NiIsInJlcXVlc3RUeXBlIjoxLCJ2ZXJzaW9uIjoxLCJmbGFncyI6MCwicGF5bG9hZHMiOlt7ImlkIjoiMSIsInBheWxvYWQiOiJhR1ZzYkc4PSJ9XX0="
	config, _ := json.Marshal(map[string]any{
		"agent":     "http://localhost:" + strconv.Itoa(port),
		"transport": transport,
		"subscribe": subscribe,
		"payload":   payload,
		"pause":     2500, // more than two PollWaits
	})
	loader, err := os.ReadFile(filepath.Join(browser.Dir, "cjsload.js"))
	if err != nil {
		t.Fatal(err)
	}
	ps.Handle(host, "/cjsload.js", "text/javascript", loader)
	ps.HandleHTML(host, "/", strings.Replace(string(page), "/*CONFIG*/null", string(config), 1))

	p := browser.Open(t, ps.URL(host, "/"), ps.Hosts()...)
	// expect waits for a line, in any order with the others: a client hub
	// call delivered by a poll may arrive before or after the result of
	// the invocation that queued it.
	expect := func(want string) {
		t.Helper()
		l, err := p.WaitConsole(30*time.Second, func(s string) bool {
			return s == want || strings.HasPrefix(s, "page error") || strings.HasPrefix(s, "connection error")
		})
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if l.Text != want {
			t.Fatalf("page logged %q, want %q", l.Text, want)
		}
	}
	expect("connected " + wantTransport)
	expect(`result {"echo":["` + payload + `"],"origin":"` + origin + `"}`)
	if subscribe {
		expect("progress signing for " + origin)
	}
	expect("error Exception: 'noSuchMethod' method could not be resolved.")
	expect(`error HubException: no card {"status_code":1397311237}`)
	expect(`second {"echo":["second"],"origin":"` + origin + `"}`)
	expect("stopped")

	// stop() told the server with an abort request.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d connections after the page stopped", srv.Count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, o := range origins {
		if o != origin {
			t.Errorf("the hub saw Origin %q, want %q", o, origin)
		}
	}
	for _, l := range p.Lines() {
		if l.Kind == "pageerror" || l.Kind == "console" && (strings.HasPrefix(l.Text, "connection error") || !subscribe && strings.HasPrefix(l.Text, "progress")) {
			t.Errorf("page reported %s", l)
		}
	}
}

// testGuard is the agent's Guard allowing the origins on list.
func testGuard(list *domainlist.List) *localhttp.Guard {
	return localhttp.NewGuard(localhttp.GuardOptions{
		Domains: func() localhttp.DomainInfo { return localhttp.DomainInfo{List: list, Source: "test"} },
		Logger:  zerolog.Nop(),
	})
}

// serveE2E serves a signingHub with requestToSign behind guard on a
// loopback port, until the test ends.
func serveE2E(t *testing.T, guard *localhttp.Guard, invoke signalr.Invoker) (*signalr.Server, int) {
	t.Helper()
	srv := signalr.New(signalr.Options{
		Hubs:        []string{"signingHub"},
		Methods:     map[string][]string{"signingHub": {"requestToSign"}},
		AllowOrigin: func(o string) bool { return guard.Domains().List.Allows(o) },
		Invoke:      invoke,
		PollWait:    time.Second,
		Logger:      zerolog.Nop(),
	})
	mux := http.NewServeMux()
	mux.Handle("/signalr/", srv)
	lns, err := localhttp.Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- guard.Serve(ctx, mux, localhttp.ServeOptions{BeforeShutdown: srv.Close}, lns...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return srv, lns[0].Addr().(*net.TCPAddr).Port
}

// proxyPage signs as NHS supplier pages written for jQuery SignalR do:
// jQuery, jquery.signalR 2.4.3 from npm, then the server's generated hub
// proxy from <script src=".../signalr/hubs">, then
// $.connection.signingHub.server.requestToSign over longPolling.
const proxyPage = `<!doctype html>
<meta charset="utf-8">
<title>jQuery SignalR hub proxy</title>
<script src="/node_modules/jquery/dist/jquery.min.js"></script>
<script src="/node_modules/signalr/jquery.signalR.min.js"></script>
<script>
"use strict";
const AGENT = /*AGENT*/null;
const log = (text) => console.log(text);
const proxy = document.createElement("script");
proxy.onerror = () => log("proxy failed to load");
proxy.onload = () => {
  const hub = $.connection.signingHub;
  log("proxy url " + $.connection.hub.url + " methods " + Object.keys(hub.server).join(","));
  $.connection.hub.url = AGENT + "/signalr";
  let progressed;
  const progress = new Promise((resolve) => { progressed = resolve; });
  hub.client.progress = (text) => { log("progress " + text); progressed(); };
  $.connection.hub.start({ transport: "longPolling" })
    .done(() => {
      log("connected " + $.connection.hub.transport.name);
      hub.server.requestToSign("cGF5bG9hZA==")
        .done(async (r) => {
          log("result " + JSON.stringify(r));
          await progress; // the client hub call comes by a poll
          $.connection.hub.stop();
          log("stopped");
        })
        .fail((e) => log("invoke failed " + e.message));
    })
    .fail((e) => log("start failed " + e.message));
};
proxy.src = AGENT + "/signalr/hubs";
document.head.appendChild(proxy);
</script>`

// TestProxyE2E loads /signalr/hubs into a page that uses jquery.signalR
// 2.4.3 from npm, unchanged, in headless Chromium, and signs through the
// generated proxy; a page whose origin is not allowed cannot load it.
func TestProxyE2E(t *testing.T) {
	browser.Require(t)
	const host, stranger = "my.esr.nhs.uk", "evil.example"
	ps := browser.NewPageServer(t, host, stranger)
	origin := ps.Origin(host)
	list, bad := domainlist.Parse([]byte(origin + "\n"))
	if len(bad) > 0 {
		t.Fatalf("DomainList %q: %v", origin, bad)
	}
	invoke := func(ctx context.Context, c *signalr.Conn, hub, method string, args []json.RawMessage) (any, error) {
		if hub != "signingHub" || method != "requestToSign" {
			return nil, signalr.ErrUnknownMethod
		}
		if err := c.Send(hub, "progress", "signing"); err != nil {
			return nil, err
		}
		return map[string]any{"echo": args, "origin": c.Origin()}, nil
	}
	_, port := serveE2E(t, testGuard(list), invoke)
	agent := "http://localhost:" + strconv.Itoa(port)
	page := strings.Replace(proxyPage, "/*AGENT*/null", strconv.Quote(agent), 1)
	ps.HandleHTML(host, "/", page)
	ps.HandleHTML(stranger, "/", page)

	p := browser.Open(t, ps.URL(host, "/"), ps.Hosts()...)
	for _, want := range []string{
		"proxy url " + agent + "/signalr methods requestToSign",
		"connected longPolling",
		"progress signing",
		`result {"echo":["cGF5bG9hZA=="],"origin":"` + origin + `"}`,
		"stopped",
	} {
		l, err := p.WaitConsole(30*time.Second, func(s string) bool {
			return s == want || strings.Contains(s, "fail")
		})
		if err != nil || l.Text != want {
			t.Fatalf("waiting for %q: %v %q", want, err, l.Text)
		}
	}

	// A page off the DomainList may load the script (the browser does not
	// say which page asks), but cannot connect: negotiate carries its
	// Origin, and the Guard refuses it.
	p = browser.Open(t, ps.URL(stranger, "/"), ps.Hosts()...)
	if l, err := p.WaitConsole(30*time.Second, func(s string) bool {
		return strings.HasPrefix(s, "start failed") || strings.HasPrefix(s, "connected")
	}); err != nil || l.Text != "start failed Error during negotiation request." {
		t.Fatalf("a page from %s: %v %q", stranger, err, l.Text)
	}
}

// TestProxyScript checks the proxy script's answer and its refusals.
func TestProxyScript(t *testing.T) {
	list, _ := domainlist.Parse([]byte("https://my.esr.nhs.uk\n"))
	_, port := serveE2E(t, testGuard(list), nil)
	agent := "http://localhost:" + strconv.Itoa(port)
	get := func(method, path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, agent+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, path := range []string{"/signalr/hubs", "/signalr/js"} {
		resp, body := get("GET", path, map[string]string{"Sec-Fetch-Dest": "script", "Sec-Fetch-Site": "cross-site"})
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != "application/javascript; charset=utf-8" ||
			h.Get("Cross-Origin-Resource-Policy") != "cross-origin" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, h)
		}
		for _, want := range []string{
			`$.hubConnection.prototype.createHubProxies = function`,
			`proxies["signingHub"] = this.createHubProxy("signingHub");`,
			`"requestToSign": invoker(proxies["signingHub"], "requestToSign")`,
			`signalR.hub = $.hubConnection("` + agent + `/signalr", { useDefaultPath: false });`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s:\n%s", path, want, body)
			}
		}
	}
	for name, tc := range map[string]struct {
		method string
		hdr    map[string]string
		status int
	}{
		"allowed Referer":  {"GET", map[string]string{"Referer": "https://my.esr.nhs.uk/page"}, 200},
		"Referer off list": {"GET", map[string]string{"Referer": "https://evil.example/"}, 403},
		"garbled Referer":  {"GET", map[string]string{"Referer": "::"}, 403},
		"Origin off list":  {"GET", map[string]string{"Origin": "https://evil.example"}, 403},
		"POST":             {"POST", nil, 405},
		"rebinding Host":   {"GET", map[string]string{"Host": "evil.example"}, 421},
	} {
		req, _ := http.NewRequest(tc.method, agent+"/signalr/hubs", nil)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		if h := tc.hdr["Host"]; h != "" {
			req.Host = h
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, tc.status)
		}
	}
}
