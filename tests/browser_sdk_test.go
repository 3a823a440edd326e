//go:build linux && cgo

package tests

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/tests/browser"
	"github.com/cardbridge/cardbridge/webeid"
)

// webFile reads a file of the JavaScript package (web/) for a page server
// to serve, as a site serves its copy of the client.
func webFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "web", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sdkLine is one JSON console line of the SDK test pages.
type sdkLine struct {
	Kind    string          `json:"kind"`
	Code    string          `json:"code"`
	Name    string          `json:"name"`
	Status  *int            `json:"status"`
	Message string          `json:"message"`
	Typed   bool            `json:"typed"`
	Value   json.RawMessage `json:"value"`
}

// collect gathers the page's sdkLines by kind until one of kind last (or
// "fatal") arrives.
func collect(t *testing.T, p *browser.Page, timeout time.Duration, last string) map[string]sdkLine {
	t.Helper()
	got := map[string]sdkLine{}
	_, err := p.WaitConsole(timeout, func(text string) bool {
		var l sdkLine
		if json.Unmarshal([]byte(text), &l) != nil || l.Kind == "" {
			return false
		}
		got[l.Kind] = l
		return l.Kind == last || l.Kind == "fatal"
	})
	if err != nil {
		t.Fatalf("the page did not finish: %v; it reported %+v", err, got)
	}
	if f, ok := got["fatal"]; ok {
		t.Fatalf("the page failed: %+v", f)
	}
	return got
}

// sdkCallsPage imports the ES module and uses every call of the client,
// reporting each answer, and each error with its code, as JSON lines. It
// asks the test (GET /step/NAME on its own origin) to cancel the next PIN
// prompt and to take the card out.
const sdkCallsPage = `<!doctype html>
<meta charset="utf-8">
<title>cardbridge ES module</title>
<script type="module">
import * as CardBridge from "/cardbridge.mjs";
const report = (o) => console.log(JSON.stringify(o));
const failure = (kind, e) => ({kind, code: e.code, name: e.name, status: e.status, message: e.message, typed: e instanceof CardBridge.CardBridgeError});
const expectError = async (kind, p) => {
  try { report({kind, code: "none", value: await p}); } catch (e) { report(failure(kind, e)); }
};
const step = (name) => fetch("/step/" + name).then((r) => { if (!r.ok) throw new Error("step " + name + ": " + r.status); });
try {
  const cb = await CardBridge.connect({portServicePorts: [], standalonePort: %[1]d});
  report({kind: "connect", value: {port: cb.port, product: (await cb.versionInfo()).product}});
  report({kind: "readers", value: await cb.readers()});
  report({kind: "card", value: await cb.card()});
  let removed;
  const cardRemoved = new Promise((r) => { removed = r; });
  const snapshot = await new Promise((resolve) => {
    cb.subscribe({
      onEvent(ev) {
        if (ev.type === "snapshot") resolve(ev);
        if (ev.type === "card-removed") removed(ev);
      },
      onError(e) { report(failure("subscribe-error", e)); },
    });
  });
  report({kind: "snapshot", value: snapshot});
  const sc = await cb.getSigningCertificate();
  report({kind: "certificate", value: sc});
  report({kind: "signature", value: await cb.sign(sc.certificate, "%[2]s", "SHA-256")});
  report({kind: "token", value: await cb.authenticate("%[3]s")});
  report({kind: "token11", value: await cb.authenticate("%[3]s", {getSigningCertificate: true})});
  await expectError("bad-request", cb.sign(sc.certificate, btoa("too short"), "SHA-256"));
  await step("cancel");
  await expectError("pin-cancelled", cb.authenticate("%[3]s"));
  await step("remove");
  report({kind: "removed", value: await cardRemoved});
  report({kind: "no-card", value: await cb.card()});
  await expectError("no-card-certificate", cb.getSigningCertificate());
  await expectError("no-card-sign", cb.sign(sc.certificate, "%[2]s", "SHA-256"));
  report({kind: "done"});
} catch (e) {
  report({kind: "fatal", code: e && e.code, message: String((e && e.message) || e)});
}
</script>`

// TestBrowserSDKCalls: a page imports the ES module (web/cardbridge.mjs)
// in headless Chromium and uses every call: connect, versionInfo,
// readers, card, subscribe, getSigningCertificate, sign and authenticate
// (web-eid:1.0 and 1.1), whose signatures and tokens verify; and gets the
// agent's errors as CardBridgeErrors with code and status: BAD_REQUEST,
// PIN_CANCELLED and NO_CARD.
func TestBrowserSDKCalls(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	a, pinLog := startSigningAgent(t)
	c, cert, _ := newCard(t, testCard{uuid: "555000000310", pin: secretPIN})
	insert(t, c, 0)
	a.waitCardRead(t, "555000000310")

	ps := browser.NewPageServer(t, "my.esr.nhs.uk")
	if ps.Origin("my.esr.nhs.uk") != signOrigin {
		t.Skipf("the page server could not take port 443, so the page's origin (%s) is not the allow-listed one", ps.Origin("my.esr.nhs.uk"))
	}
	digest := sha256.Sum256([]byte("<SignedInfo>referral</SignedInfo>"))
	ps.HandleHTML("my.esr.nhs.uk", "/", fmt.Sprintf(sdkCallsPage, a.port, base64.StdEncoding.EncodeToString(digest[:]), testNonce))
	ps.Handle("my.esr.nhs.uk", "/cardbridge.mjs", "text/javascript; charset=utf-8", webFile(t, "cardbridge.mjs"))
	ps.HandleHost("my.esr.nhs.uk", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/step/cancel":
			// The next PIN prompt is cancelled by the user.
			conf := fmt.Sprintf("FAKEPINENTRY_MODE=cancel\nFAKEPINENTRY_LOG=%s\n", pinLog)
			if err := os.WriteFile(filepath.Join(binDir, "fakepinentry.conf"), []byte(conf), 0o644); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		case "/step/remove":
			if err := c.Remove(); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	p := browser.OpenWith(t, ps.URL("my.esr.nhs.uk", "/"), browser.Options{Hosts: ps.Hosts(), Public: true, Grant: []string{"local-network-access"}})
	got := collect(t, p, 90*time.Second, "done")

	var conn struct {
		Port    int
		Product string
	}
	if err := json.Unmarshal(got["connect"].Value, &conn); err != nil || conn.Port != a.port || conn.Product != "cardbridge" {
		t.Errorf("connect() and versionInfo(): %s (%v)", got["connect"].Value, err)
	}
	var readers struct {
		Readers []struct {
			Name        string
			CardPresent bool
			Card        *struct{ UUID string }
		}
	}
	if err := json.Unmarshal(got["readers"].Value, &readers); err != nil || len(readers.Readers) != 2 || readers.Readers[0].Card == nil || readers.Readers[0].Card.UUID != "555000000310" {
		t.Errorf("readers() = %s (%v)", got["readers"].Value, err)
	}
	var card struct {
		Present     bool
		UUID        string
		Certificate string
	}
	if err := json.Unmarshal(got["card"].Value, &card); err != nil || !card.Present || card.UUID != "555000000310" || card.Certificate != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Errorf("card() = %s (%v)", got["card"].Value, err)
	}
	var snap struct {
		Type          string
		PCSCAvailable bool
		Readers       []json.RawMessage
	}
	if err := json.Unmarshal(got["snapshot"].Value, &snap); err != nil || snap.Type != "snapshot" || !snap.PCSCAvailable || len(snap.Readers) != 2 {
		t.Errorf("subscribe() snapshot = %s (%v)", got["snapshot"].Value, err)
	}

	var sc webeid.SigningCertificate
	if err := json.Unmarshal(got["certificate"].Value, &sc); err != nil || sc.Certificate != base64.StdEncoding.EncodeToString(cert.Raw) || len(sc.SupportedSignatureAlgorithms) == 0 {
		t.Errorf("getSigningCertificate() = %s (%v)", got["certificate"].Value, err)
	}
	var sig webeid.Signature
	if err := json.Unmarshal(got["signature"].Value, &sig); err != nil {
		t.Fatalf("sign() = %s: %v", got["signature"].Value, err)
	}
	checkSignature(t, cert, "SHA-256", digest[:], &sig)
	for kind, format := range map[string]string{"token": "web-eid:1.0", "token11": "web-eid:1.1"} {
		var tok webeid.Token
		if err := json.Unmarshal(got[kind].Value, &tok); err != nil {
			t.Fatalf("authenticate() = %s: %v", got[kind].Value, err)
		}
		if tok.Format != format {
			t.Errorf("authenticate() answered format %q, want %q", tok.Format, format)
		}
		if v, err := webeid.Verify(&tok, signOrigin, testNonce, time.Now()); err != nil || !v.Equal(cert) {
			t.Errorf("the page's %s token does not verify: %v", format, err)
		}
	}

	for kind, want := range map[string]struct {
		code   string
		status int
	}{
		"bad-request":         {"BAD_REQUEST", 400},
		"pin-cancelled":       {"PIN_CANCELLED", 403},
		"no-card-certificate": {"NO_CARD", 404},
		"no-card-sign":        {"NO_CARD", 404},
	} {
		l := got[kind]
		if l.Code != want.code || l.Status == nil || *l.Status != want.status || !l.Typed || l.Name != "CardBridgeError" || l.Message == "" {
			t.Errorf("%s: the page got %+v (status %v), want a CardBridgeError %s with status %d", kind, l, l.Status, want.code, want.status)
		}
	}
	var removed struct{ Type, Reader string }
	if err := json.Unmarshal(got["removed"].Value, &removed); err != nil || removed.Type != "card-removed" || removed.Reader != reader0 {
		t.Errorf("the subscription's card-removed: %s (%v)", got["removed"].Value, err)
	}
	if string(got["no-card"].Value) != `{"present":false}` {
		t.Errorf("card() without a card = %s", got["no-card"].Value)
	}
	if _, ok := got["subscribe-error"]; ok {
		t.Errorf("the subscription ended: %+v", got["subscribe-error"])
	}
	assertNoPINInLogs(t, a.log, pinLog)
}

// discoveryPage loads the client as a site serves it (its own copy of
// web/cardbridge.js), connects, reports the port and what it remembered,
// and, the first time, loads itself again in the same tab.
const discoveryPage = `<!doctype html>
<meta charset="utf-8">
<title>discovery</title>
<script src="/cardbridge.js"></script>
<script>
const report = (o) => console.log(JSON.stringify(o));
CardBridge.connect({portServicePorts: %[1]s, standalonePort: %[2]d}).then((cb) => {
  report({kind: location.pathname === "/" ? "first" : "second", value: {port: cb.port, stored: sessionStorage.getItem("cardbridge.port")}});
  if (location.pathname === "/") location.href = "/again";
}, (e) => report({kind: "fatal", code: e.code, message: e.message}));
</script>`

// TestBrowserSDKRemembersPort: on a standalone install the first page
// load asks every port service port, then the agent; the next load in the
// same tab asks the remembered port, once, and nothing else.
func TestBrowserSDKRemembersPort(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	a := startAgent(t)
	ps := browser.NewPageServer(t, "my.esr.nhs.uk")
	if ps.Origin("my.esr.nhs.uk") != "https://my.esr.nhs.uk" {
		t.Skipf("the page server could not take port 443, so the page's origin (%s) is not the allow-listed one", ps.Origin("my.esr.nhs.uk"))
	}
	servicePorts := []int{testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)}
	page := fmt.Sprintf(discoveryPage, strings.ReplaceAll(fmt.Sprint(servicePorts), " ", ","), a.port)
	ps.HandleHTML("my.esr.nhs.uk", "/", page)
	ps.HandleHTML("my.esr.nhs.uk", "/again", page)
	ps.Handle("my.esr.nhs.uk", "/cardbridge.js", "text/javascript; charset=utf-8", webFile(t, "cardbridge.js"))
	p := browser.OpenWith(t, ps.URL("my.esr.nhs.uk", "/"), browser.Options{Hosts: ps.Hosts(), Public: true, Grant: []string{"local-network-access"}, Requests: true})
	got := collect(t, p, 30*time.Second, "second")

	want := fmt.Sprintf(`{"port":%d,"stored":"{\"standalone\":%d}"}`, a.port, a.port)
	if string(got["first"].Value) != want || string(got["second"].Value) != want {
		t.Errorf("first load %s, second load %s; want %s", got["first"].Value, got["second"].Value, want)
	}
	loopback := map[string][]string{}
	for _, l := range p.Lines() {
		if l.Kind == "request" && strings.HasPrefix(l.URL, "http://127.0.0.1:") {
			loopback[l.Page] = append(loopback[l.Page], l.Type+" "+l.URL)
		}
	}
	agentURL := fmt.Sprintf("GET http://127.0.0.1:%d/api/versioninfo", a.port)
	first := loopback[ps.URL("my.esr.nhs.uk", "/")]
	if len(first) != len(servicePorts)+1 || first[len(first)-1] != agentURL {
		t.Errorf("the first load asked %q; want each port service port, then the agent", first)
	}
	if second := loopback[ps.URL("my.esr.nhs.uk", "/again")]; len(second) != 1 || second[0] != agentURL {
		t.Errorf("the second load asked %q; want only %s", second, agentURL)
	}
}

// connectPage loads the client from the site and reports connect's error.
const connectPage = `<!doctype html>
<meta charset="utf-8">
<title>connect</title>
<script src="/cardbridge.js"></script>
<script>
const report = (o) => console.log(JSON.stringify(o));
CardBridge.connect(%s).then(
  (cb) => report({kind: "result", code: "connected", value: cb.port}),
  (e) => report({kind: "result", code: e.code, name: e.name, status: e.status, message: e.message, typed: e instanceof CardBridge.CardBridgeError}));
</script>`

// connectError opens connectPage on host with options (JSON) and returns
// the page's answer, and the requests it made to 127.0.0.1.
func connectError(t *testing.T, host, options string, opts browser.Options) (sdkLine, []string) {
	t.Helper()
	ps := browser.NewPageServer(t, host)
	ps.HandleHTML(host, "/", fmt.Sprintf(connectPage, options))
	ps.Handle(host, "/cardbridge.js", "text/javascript; charset=utf-8", webFile(t, "cardbridge.js"))
	opts.Hosts = ps.Hosts()
	opts.Public = true
	opts.Requests = true
	p := browser.OpenWith(t, ps.URL(host, "/"), opts)
	l := collect(t, p, 30*time.Second, "result")["result"]
	if l.Code != "connected" && (!l.Typed || l.Name != "CardBridgeError" || l.Message == "") {
		t.Errorf("connect rejected with %+v, not a CardBridgeError with a message", l)
	}
	var asked []string
	for _, line := range p.Lines() {
		if line.Kind == "request" && strings.HasPrefix(line.URL, "http://127.0.0.1:") {
			asked = append(asked, line.URL)
		}
	}
	return l, asked
}

// TestBrowserSDKNotRunning: nothing listens on any port: NOT_RUNNING.
func TestBrowserSDKNotRunning(t *testing.T) {
	browser.Require(t)
	l, asked := connectError(t, "my.example", fmt.Sprintf(`{portServicePorts: [%d, %d], standalonePort: %d}`, testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)),
		browser.Options{Grant: []string{"local-network-access"}})
	if l.Code != "NOT_RUNNING" || l.Status != nil {
		t.Errorf("connect with nothing running: %+v, want NOT_RUNNING", l)
	}
	if len(asked) == 0 {
		t.Error("the page asked no port")
	}
}

// TestBrowserSDKTimeout: the standalone port takes the connection and
// never answers: TIMEOUT, after timeoutMs.
func TestBrowserSDKTimeout(t *testing.T) {
	browser.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	start := time.Now()
	l, _ := connectError(t, "my.example", fmt.Sprintf(`{portServicePorts: [], standalonePort: %d, timeoutMs: 500}`, port),
		browser.Options{Grant: []string{"local-network-access"}})
	if l.Code != "TIMEOUT" || !strings.Contains(l.Message, strconv.Itoa(port)) {
		t.Errorf("connect to a port that never answers: %+v, want TIMEOUT naming the port", l)
	}
	if d := time.Since(start); d > 25*time.Second {
		t.Errorf("TIMEOUT took %v", d)
	}
}

// TestBrowserSDKLocalNetworkDenied: a public site the browser does not let
// reach loopback gets LOCAL_NETWORK_DENIED, not NOT_RUNNING: when the
// user (here headless Chromium, which denies permission prompts) says no,
// and when an administrator's policy blocks the site, in which case the
// client asks no port at all.
func TestBrowserSDKLocalNetworkDenied(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	a := startAgent(t)
	options := fmt.Sprintf(`{portServicePorts: [%d], standalonePort: %d}`, testutil.FreePort(t), a.port)

	t.Run("prompt denied", func(t *testing.T) {
		l, asked := connectError(t, "my.example", options, browser.Options{})
		if l.Code != "LOCAL_NETWORK_DENIED" {
			t.Errorf("a public page without Local Network Access: %+v, want LOCAL_NETWORK_DENIED", l)
		}
		if len(asked) == 0 {
			t.Error("the page asked no port, so no prompt was denied")
		}
	})

	// Chromium 156 honours both names; the Permissions API then reports
	// "denied" before the page asks anything.
	for _, name := range []string{"LocalNetworkAccessBlockedForUrls", "LoopbackNetworkBlockedForUrls"} {
		t.Run("policy "+name, func(t *testing.T) {
			// Chromium reads managed policy only from this machine-wide
			// directory, so the test writes a file of its own there, for
			// a host name no other test uses, and removes it when done.
			const host = "lna-blocked.example"
			dir := "/etc/chromium/policies/managed"
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Skipf("cannot write Chromium's managed policy (%v); run as root", err)
			}
			var rnd [6]byte
			_, _ = rand.Read(rnd[:])
			file := filepath.Join(dir, "cardbridge-test-"+hex.EncodeToString(rnd[:])+".json")
			// A host pattern covers the page's origin with or without
			// the page server's port.
			policy, _ := json.Marshal(map[string][]string{name: {host}})
			if err := os.WriteFile(file, policy, 0o644); err != nil {
				t.Skipf("cannot write Chromium's managed policy (%v); run as root", err)
			}
			t.Cleanup(func() { os.Remove(file) })
			// No Grant: a DevTools permission override would beat the
			// policy, which a user cannot do.
			l, asked := connectError(t, host, options, browser.Options{})
			if l.Code != "LOCAL_NETWORK_DENIED" {
				t.Errorf("a page the policy blocks: %+v, want LOCAL_NETWORK_DENIED", l)
			}
			if len(asked) != 0 {
				t.Errorf("a page the policy blocks asked %q; the client should ask nothing once the browser says it may not", asked)
			}
		})
	}
}

// sdkSubscribePage subscribes through the ES module and reports the
// snapshot and the error that ends the subscription.
const sdkSubscribePage = `<!doctype html>
<meta charset="utf-8">
<title>cardbridge events</title>
<script type="module">
import * as CardBridge from "/cardbridge.mjs";
const report = (o) => console.log(JSON.stringify(o));
try {
  const cb = await CardBridge.connect({portServicePorts: [], standalonePort: %d});
  cb.subscribe({
    onEvent(ev) { if (ev.type === "snapshot") report({kind: "snapshot"}); },
    onError(e) { report({kind: "subscribe-error", code: e.code, name: e.name, message: e.message, typed: e instanceof CardBridge.CardBridgeError}); },
  });
} catch (e) {
  report({kind: "fatal", code: e && e.code, message: String((e && e.message) || e)});
}
</script>`

// TestBrowserSDKSubscribeOriginRemoved: when the site leaves the DomainList
// while its page follows events, the agent closes the stream and the
// subscription ends with a CardBridgeError ORIGIN_NOT_ALLOWED.
func TestBrowserSDKSubscribeOriginRemoved(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	domains := filepath.Join(t.TempDir(), "DomainList.txt")
	if err := os.WriteFile(domains, []byte(testDomainList), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "--domains", domains)
	ps := browser.NewPageServer(t, "my.esr.nhs.uk")
	if ps.Origin("my.esr.nhs.uk") != signOrigin {
		t.Skipf("the page server could not take port 443, so the page's origin (%s) is not the allow-listed one", ps.Origin("my.esr.nhs.uk"))
	}
	ps.HandleHTML("my.esr.nhs.uk", "/", fmt.Sprintf(sdkSubscribePage, a.port))
	ps.Handle("my.esr.nhs.uk", "/cardbridge.mjs", "text/javascript; charset=utf-8", webFile(t, "cardbridge.mjs"))
	p := browser.OpenWith(t, ps.URL("my.esr.nhs.uk", "/"), browser.Options{Hosts: ps.Hosts(), Public: true, Grant: []string{"local-network-access"}})
	collect(t, p, 30*time.Second, "snapshot")

	// An admin takes the site off the list; the agent reloads it.
	if err := os.WriteFile(domains, []byte("# version: test-2\nhttps://*.spineservices.nhs.uk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := collect(t, p, 30*time.Second, "subscribe-error")
	if l := got["subscribe-error"]; l.Code != "ORIGIN_NOT_ALLOWED" || l.Name != "CardBridgeError" || !l.Typed {
		t.Errorf("the subscription ended with %+v, want a CardBridgeError ORIGIN_NOT_ALLOWED", l)
	}
}
