//go:build linux && cgo

package tests

// The NHS client conformance suite: the ways NHS pages and libraries talk
// to NHS Credential Management and the NHS Port Service, driven with the
// real client libraries from npm, unchanged, in headless Chromium, from a
// page served as a public https origin on the DomainList, through the real
// port service, agent, pcscd and a virtual card. Local Network Access is
// granted as an administrator would, by a managed Chromium policy.
//
// Covered flows (README "Works with"):
//   - NHS's Port Service library 1.0.0.0 (pr-service.js): each well-known
//     port in turn, a synchronous jQuery XHR to /PRS/ConnectPRService with
//     credentials, accepted when statusCode === 200 (a number), then
//     /PRS/GetPortNumber, reading FaultException.Code/Message; then, as
//     consume-pr-service.js does, <script src=".../signalr/hubs"> and
//     jquery.signalR 2.4.3's $.connection.signingHub.server.requestToSign.
//   - NHS's prescription-signing library: axios 1.6.7 GetPortNumber on the
//     five ports at once with withCredentials and Promise.any, reading
//     faultException.code/message; then signalr-no-jquery 0.2.0
//     hubConnection, createHubProxy("signingHub"), start with longPolling
//     and contentType application/jwt, invoke("requestToSign", base64 JSON).

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/tests/browser"
)

// nhsWellKnownPorts are the NHS Port Service's ports, in the order NHS's
// libraries try them.
const nhsWellKnownPorts = "43487,44213,45031,46478,48853"

// legacyPortServicePage signs the way pages built on NHS's Port Service
// library 1.0.0.0 and consume-pr-service.js do. CONFIG is
// {requests:[...], discoverOnly}; it reports one JSON line per step.
const legacyPortServicePage = `<!doctype html>
<meta charset="utf-8">
<title>NHS Port Service library flow</title>
<script src="/node_modules/jquery/dist/jquery.min.js"></script>
<script src="/node_modules/signalr/jquery.signalR.min.js"></script>
<script>
"use strict";
const CONFIG = /*CONFIG*/null;
const report = (o) => console.log(JSON.stringify(o));

// The library's discovery: each well-known port in turn, synchronously,
// with credentials; a port counts only when statusCode === 200.
function connectPRService() {
  for (const port of [43487, 44213, 45031, 46478, 48853]) {
    let found = false;
    $.ajax({ url: "http://localhost:" + port + "/PRS/ConnectPRService", type: "GET", crossDomain: true,
      xhrFields: { withCredentials: true }, async: false,
      success: (data) => { if (data.statusCode === 200) found = true; } });
    if (found) return port;
  }
  return undefined;
}

// The library's GetPortNumber: the port, or the fault as FaultException,
// or its own PR20002.
function getPortNumber(prPort) {
  const unavailable = { Code: "PR20002", Message: "Port redirection service is unavailable" };
  if (prPort === undefined) return { error: unavailable };
  let answer = { error: unavailable };
  $.ajax({ url: "http://localhost:" + prPort + "/PRS/GetPortNumber", type: "GET", crossDomain: true,
    xhrFields: { withCredentials: true }, async: false,
    success: (data) => {
      if (data.portData !== undefined) answer = { port: data.portData.portNumber };
      else if (data.FaultException !== undefined) answer = { error: { Code: data.FaultException.Code, Message: data.FaultException.Message } };
    } });
  return answer;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.onload = resolve;
    s.onerror = () => reject(new Error("could not load " + src));
    s.src = src;
    document.head.appendChild(s);
  });
}

const wait = (d) => new Promise((resolve, reject) => d.done(resolve).fail(reject));

(async () => {
  try {
    const prPort = connectPRService();
    report({ kind: "portservice", port: prPort === undefined ? 0 : prPort });
    const answer = getPortNumber(prPort);
    if (answer.error) { report({ kind: "fault", code: answer.error.Code, message: answer.error.Message }); return; }
    report({ kind: "port", port: answer.port });
    if (CONFIG.discoverOnly) return;
    await loadScript("http://localhost:" + answer.port + "/signalr/hubs");
    $.connection.hub.url = "http://localhost:" + answer.port + "/signalr";
    await wait($.connection.hub.start({ transport: "longPolling" }));
    for (const req of CONFIG.requests) {
      const result = await wait($.connection.signingHub.server.requestToSign(btoa(JSON.stringify(req))));
      report({ kind: "result", result });
    }
    $.connection.hub.stop();
    report({ kind: "done" });
  } catch (e) {
    report({ kind: "error", message: String((e && e.message) || e) });
  }
})();
</script>`

// signingLibraryPage signs the way NHS's prescription-signing library
// does, with the npm versions it names. CONFIG is as above.
const signingLibraryPage = `<!doctype html>
<meta charset="utf-8">
<title>NHS prescription-signing library flow</title>
<script src="/node_modules/axios-1.6.7/dist/axios.min.js"></script>
<script src="/cjsload.js"></script>
<script>
"use strict";
const CONFIG = /*CONFIG*/null;
const report = (o) => console.log(JSON.stringify(o));
(async () => {
  try {
    const tasks = [43487, 44213, 45031, 46478, 48853].map((port) =>
      axios.get("http://localhost:" + port + "/PRS/GetPortNumber", { withCredentials: true }).then((r) => r.data));
    let rsp;
    try {
      rsp = await Promise.any(tasks);
    } catch (e) {
      report({ kind: "unreachable", message: String(e) });
      return;
    }
    if (rsp.faultException !== undefined && rsp.faultException !== null) {
      report({ kind: "fault", code: rsp.faultException.code, message: rsp.faultException.message });
      return;
    }
    report({ kind: "port", port: rsp.portData.portNumber });
    if (CONFIG.discoverOnly) return;
    const { hubConnection } = await requirePackage("signalr-no-jquery-0.2.0");
    const connection = hubConnection("http://localhost:" + rsp.portData.portNumber, { logging: false });
    const hub = connection.createHubProxy("signingHub");
    await new Promise((resolve, reject) =>
      connection.start({ transport: "longPolling", contentType: "application/jwt" }, () => resolve(null)).fail(reject));
    for (const req of CONFIG.requests) {
      const result = await hub.invoke("requestToSign", btoa(JSON.stringify(req)));
      report({ kind: "result", result });
    }
    connection.stop();
    report({ kind: "done" });
  } catch (e) {
    report({ kind: "error", message: String((e && e.message) || e) });
  }
})();
</script>`

// pageEvent is one line a conformance page reports.
type pageEvent struct {
	Kind    string         `json:"kind"`
	Port    int            `json:"port"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Result  *nhsSignResult `json:"result"`
}

// nhsSignResult is requestToSign's answer as NHS clients read it.
type nhsSignResult struct {
	Certificate  string `json:"certificate"`
	StatusCode   int64  `json:"status_code"`
	StatusString string `json:"status_string"`
	Message      string `json:"message"`
	Signatures   []struct {
		ID        string `json:"id"`
		Signature string `json:"signature"`
	} `json:"signatures"`
	Failed []any `json:"failed_signatures"`
}

// signRequest is a requestToSign request as NHS pages build it.
type signRequest struct {
	Algorithm   string           `json:"algorithm"`
	RequestType int              `json:"requestType"`
	Version     int              `json:"version"`
	Flags       int              `json:"flags"`
	Payloads    []map[string]any `json:"payloads"`
}

// signedInfo is what NHS pages sign: the base64 of a canonical XMLDSig
// SignedInfo over a prescription's digest.
func signedInfo(alg, prescription string) []byte {
	sigAlg, digAlg := "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1"
	d1, d256 := sha1.Sum([]byte(prescription)), sha256.Sum256([]byte(prescription))
	digest := d1[:]
	if alg == "RS256" {
		sigAlg, digAlg, digest = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256", d256[:]
	}
	return []byte(`<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#">` +
		`<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></CanonicalizationMethod>` +
		`<SignatureMethod Algorithm="` + sigAlg + `"></SignatureMethod>` +
		`<Reference><Transforms><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></Transform></Transforms>` +
		`<DigestMethod Algorithm="` + digAlg + `"></DigestMethod>` +
		`<DigestValue>` + base64.StdEncoding.EncodeToString(digest) + `</DigestValue></Reference></SignedInfo>`)
}

// newSignRequest makes a request signing one SignedInfo per id.
func newSignRequest(alg string, ids ...string) (signRequest, map[string][]byte) {
	req := signRequest{Algorithm: alg, RequestType: 1, Version: 1}
	data := map[string][]byte{}
	for _, id := range ids {
		data[id] = signedInfo(alg, "prescription "+id)
		req.Payloads = append(req.Payloads, map[string]any{"id": id, "payload": base64.StdEncoding.EncodeToString(data[id])})
	}
	return req, data
}

// verifyNHSSignatures checks a successful answer: the card's certificate,
// and every signature valid over the decoded payload with alg's hash.
func verifyNHSSignatures(t *testing.T, r *nhsSignResult, cert *x509.Certificate, alg string, data map[string][]byte) {
	t.Helper()
	if r == nil || r.StatusCode != 0 || len(r.Failed) != 0 || len(r.Signatures) != len(data) {
		t.Fatalf("%s: answer %+v, want status_code 0 and %d signatures", alg, r, len(data))
	}
	der, err := base64.StdEncoding.DecodeString(r.Certificate)
	if err != nil || !cert.Equal(mustParseCert(t, der)) {
		t.Fatalf("%s: the answer's certificate is not the card's", alg)
	}
	hash := crypto.SHA1
	if alg == "RS256" {
		hash = crypto.SHA256
	}
	for _, s := range r.Signatures {
		payload, ok := data[s.ID]
		if !ok {
			t.Errorf("%s: a signature for unknown id %q", alg, s.ID)
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Signature)
		if err != nil {
			t.Errorf("%s: signature %s is not base64", alg, s.ID)
			continue
		}
		h := hash.New()
		h.Write(payload)
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), hash, h.Sum(nil), sig); err != nil {
			t.Errorf("%s: signature %s does not verify against the certificate: %v", alg, s.ID, err)
		}
	}
}

func mustParseCert(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("the answer's certificate does not parse: %v", err)
	}
	return c
}

// conformanceBed is the suite's shared set-up: the port service on the
// NHS ports, a page server for an allowed and a refused origin, and the
// managed Chromium policy that grants the pages Local Network Access.
type conformanceBed struct {
	ps      *portService
	pages   *browser.PageServer
	pinConf string
	pinLog  string
}

const (
	allowedHost = "my.esr.nhs.uk"
	refusedHost = "evil.example"
	// chromiumPolicyDir is where Debian's Chromium reads managed policies.
	chromiumPolicyDir = "/etc/chromium/policies/managed"
)

func newConformanceBed(t *testing.T) *conformanceBed {
	t.Helper()
	needPCSCD(t)
	browser.Require(t)
	dir := testutil.SharedTempDir(t)
	b := &conformanceBed{
		ps: &portService{dir: filepath.Join(dir, "state"), socket: filepath.Join(dir, "portservice.sock"), port: 43487, lo: 56500, hi: 56599,
			extra: []string{"--ports", nhsWellKnownPorts}},
		pinLog: filepath.Join(t.TempDir(), "pinentry.log"),
	}
	b.ps.start(t)
	t.Cleanup(func() { b.ps.stop(t) })
	if err := os.WriteFile(filepath.Join(binDir, "fakepinentry.conf"), []byte("FAKEPINENTRY_PIN="+secretPIN+"\nFAKEPINENTRY_LOG="+b.pinLog+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	b.pages = browser.NewPageServer(t, allowedHost, refusedHost)
	if b.pages.Origin(allowedHost) != "https://"+allowedHost {
		t.Fatalf("the page server could not take port 443 (got %s): NHS origins are on the default port", b.pages.Origin(allowedHost))
	}
	loader, err := os.ReadFile(filepath.Join(browser.Dir, "cjsload.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{allowedHost, refusedHost} {
		b.pages.Handle(h, "/cjsload.js", "text/javascript", loader)
	}

	// As an administrator grants Local Network Access. The refused origin
	// is granted too, so that what stops it is cardbridge's DomainList,
	// not the browser.
	policy, _ := json.Marshal(map[string][]string{"LocalNetworkAccessAllowedForUrls": {b.pages.Origin(allowedHost), b.pages.Origin(refusedHost)}})
	if err := os.MkdirAll(chromiumPolicyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(chromiumPolicyDir, "cardbridge-conformance-test.json")
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(policyFile) })
	return b
}

// run opens page from host with config and returns the events it
// reported up to its last ("done", "fault", "error", "unreachable", or
// "port" when only discovering).
func (b *conformanceBed) run(t *testing.T, host, path, page string, config map[string]any) []pageEvent {
	t.Helper()
	cfg, _ := json.Marshal(config)
	b.pages.HandleHTML(host, path, strings.Replace(page, "/*CONFIG*/null", string(cfg), 1))
	p := browser.OpenWith(t, b.pages.URL(host, path), browser.Options{Hosts: b.pages.Hosts(), Public: true, Timeout: 60 * time.Second})
	defer p.Close()
	var events []pageEvent
	final := map[string]bool{"done": true, "fault": true, "error": true, "unreachable": true}
	for {
		var ev pageEvent
		_, err := p.WaitConsole(60*time.Second, func(text string) bool {
			ev = pageEvent{}
			return json.Unmarshal([]byte(text), &ev) == nil && ev.Kind != ""
		})
		if err != nil {
			t.Fatalf("%s%s: %v after %+v", host, path, err, events)
		}
		events = append(events, ev)
		if final[ev.Kind] || ev.Kind == "port" && config["discoverOnly"] == true {
			return events
		}
	}
}

// last returns the final event, failing unless its kind is want.
func last(t *testing.T, events []pageEvent, want string) pageEvent {
	t.Helper()
	ev := events[len(events)-1]
	if ev.Kind != want {
		t.Fatalf("the page ended with %+v, want %q (events %+v)", ev, want, events)
	}
	return ev
}

// results returns the page's requestToSign answers.
func results(events []pageEvent) []*nhsSignResult {
	var rs []*nhsSignResult
	for _, ev := range events {
		if ev.Kind == "result" {
			rs = append(rs, ev.Result)
		}
	}
	return rs
}

// pinPrompts counts the PIN prompts the user has been shown.
func (b *conformanceBed) pinPrompts(t *testing.T) int {
	t.Helper()
	pl, err := os.ReadFile(b.pinLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(pl), "GETPIN")
}

func TestNHSClientConformance(t *testing.T) {
	b := newConformanceBed(t)
	const noAgentMessage = "Unable to find CM process for user"

	// No agent for this user: both libraries read PR30007 in their own
	// casing.
	t.Run("no agent", func(t *testing.T) {
		ev := last(t, b.run(t, allowedHost, "/legacy-no-agent", legacyPortServicePage, map[string]any{"discoverOnly": true}), "fault")
		if ev.Code != "PR30007" || ev.Message != noAgentMessage {
			t.Errorf("Port Service library read the fault as %q %q", ev.Code, ev.Message)
		}
		ev = last(t, b.run(t, allowedHost, "/library-no-agent", signingLibraryPage, map[string]any{"discoverOnly": true}), "fault")
		if ev.Code != "PR30007" || ev.Message != noAgentMessage {
			t.Errorf("signing library read the fault as %q %q", ev.Code, ev.Message)
		}
	})

	tu := &testUser{}
	startRootAgent(t, b.ps, tu, t.TempDir(), "--pinentry", filepath.Join(binDir, "fakepinentry"))
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	agentPort := getPortNumber(t, b.ps, me, true)
	if agentPort == 0 {
		t.Fatal("the agent did not register")
	}

	t.Run("no card", func(t *testing.T) {
		req, _ := newSignRequest("RS1", "rx-1")
		events := b.run(t, allowedHost, "/library-no-card", signingLibraryPage, map[string]any{"requests": []any{req}})
		last(t, events, "done")
		rs := results(events)
		if len(rs) != 1 || rs[0].StatusCode != 0x53494705 || rs[0].StatusString != "No X.509 Signing certificate found" {
			t.Fatalf("without a card: %+v", rs)
		}
		if n := b.pinPrompts(t); n != 0 {
			t.Errorf("%d PIN prompts without a card", n)
		}
	})

	c, cert, _ := newCard(t, testCard{uuid: "555000000110", pin: secretPIN})
	insert(t, c, 0)
	waitAgentCard(t, agentPort, "555000000110")

	t.Run("signing library", func(t *testing.T) {
		rs256, data256 := newSignRequest("RS256", "rx-1", "rx-2")
		rs1, data1 := newSignRequest("RS1", "e7d65dfa-9547-46ef-8cdc-3a665af27f5d")
		malformed := map[string]any{"algorithm": "RS1", "requestType": 1, "version": 1, "flags": 0, "payloads": []any{map[string]any{"id": "x", "payload": "%%%"}}}
		before := b.pinPrompts(t)
		events := b.run(t, allowedHost, "/library", signingLibraryPage, map[string]any{"requests": []any{rs256, rs1, malformed}})
		if ev := events[0]; ev.Kind != "port" || ev.Port != agentPort {
			t.Fatalf("discovery: %+v, want port %d", ev, agentPort)
		}
		last(t, events, "done")
		rs := results(events)
		if len(rs) != 3 {
			t.Fatalf("answers: %+v", rs)
		}
		verifyNHSSignatures(t, rs[0], cert, "RS256", data256)
		verifyNHSSignatures(t, rs[1], cert, "RS1", data1)
		if rs[2].StatusCode != 0x53494703 || len(rs[2].Signatures) != 0 {
			t.Errorf("malformed request: %+v", rs[2])
		}
		if n := b.pinPrompts(t) - before; n != 2 {
			t.Errorf("%d PIN prompts for two signing requests and a malformed one, want 2", n)
		}
	})

	t.Run("Port Service library and hub proxy", func(t *testing.T) {
		rs1, data1 := newSignRequest("RS1", "rx-legacy-1")
		rs256, data256 := newSignRequest("RS256", "rx-legacy-2", "rx-legacy-3")
		events := b.run(t, allowedHost, "/legacy", legacyPortServicePage, map[string]any{"requests": []any{rs1, rs256}})
		if len(events) < 2 || events[0].Kind != "portservice" || events[0].Port != 43487 || events[1].Kind != "port" || events[1].Port != agentPort {
			t.Fatalf("discovery: %+v, want the port service on 43487 and the agent on %d", events, agentPort)
		}
		last(t, events, "done")
		rs := results(events)
		if len(rs) != 2 {
			t.Fatalf("answers: %+v", rs)
		}
		verifyNHSSignatures(t, rs[0], cert, "RS1", data1)
		verifyNHSSignatures(t, rs[1], cert, "RS256", data256)
	})

	// An origin off the DomainList: nothing reaches the page, and the user
	// is never asked for a PIN.
	t.Run("origin not allowed", func(t *testing.T) {
		req, _ := newSignRequest("RS256", "rx-1")
		before := b.pinPrompts(t)
		ev := last(t, b.run(t, refusedHost, "/library", signingLibraryPage, map[string]any{"requests": []any{req}}), "unreachable")
		if !strings.Contains(ev.Message, "AggregateError") {
			t.Errorf("signing library: %+v", ev)
		}
		ev = last(t, b.run(t, refusedHost, "/legacy", legacyPortServicePage, map[string]any{"requests": []any{req}}), "fault")
		if ev.Code != "PR20002" {
			t.Errorf("Port Service library: %+v, want its own PR20002 (no port service reachable)", ev)
		}
		if n := b.pinPrompts(t) - before; n != 0 {
			t.Errorf("%d PIN prompts for a refused origin", n)
		}
		if log := b.ps.log(); !strings.Contains(log, `"origin":"https://evil.example"`) {
			t.Errorf("the port service did not log the refused origin:\n%s", log)
		}
	})
	assertNoPINInLogs(t, tu.log, b.pinLog, filepath.Join(b.ps.dir, "portservice.log"))
}

// waitAgentCard waits until the agent on port has read the card's UUID.
func waitAgentCard(t *testing.T, port int, uuid string) {
	t.Helper()
	a := &agentProc{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	a.waitCardRead(t, uuid)
}
