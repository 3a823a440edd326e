//go:build linux && cgo

package tests

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/tests/browser"
	"github.com/cardbridge/cardbridge/webeid"
)

// webEIDPage uses cardbridge.js's Web eID calls as a signing site would:
// the signing certificate, a signature of a SHA-256 digest, a web-eid:1.1
// token, and a request the agent refuses (a digest of the wrong length),
// reporting each answer or error code on the console.
const webEIDPage = `<!doctype html>
<meta charset="utf-8">
<title>sign a document</title>
<script src="http://127.0.0.1:%[1]d/cardbridge.js"></script>
<script>
const report = (o) => console.log(JSON.stringify(o));
(async () => {
  try {
    const cb = await CardBridge.connect({portServicePorts: [], standalonePort: %[1]d});
    const sc = await cb.getSigningCertificate();
    report({kind: "certificate", value: sc});
    const sig = await cb.sign(sc.certificate, "%[2]s", "SHA-256");
    report({kind: "signature", value: sig});
    const token = await cb.authenticate("%[3]s", {getSigningCertificate: true});
    report({kind: "token", value: token});
    try {
      await cb.sign(sc.certificate, btoa("too short"), "SHA-256");
      report({kind: "refused", code: "none"});
    } catch (e) {
      report({kind: "refused", code: e.code, message: e.message});
    }
  } catch (e) {
    report({kind: "error", code: e && e.code, message: String((e && e.message) || e)});
  }
})();
</script>`

// TestBrowserWebEIDCalls: a page in headless Chromium reads the signing
// certificate, signs a digest and gets a web-eid:1.1 token through
// cardbridge.js, and gets the API's error code for a bad request; the
// signature and token verify against the card's certificate.
func TestBrowserWebEIDCalls(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	a, pinLog := startSigningAgent(t)
	c, cert, _ := newCard(t, testCard{uuid: "555000000210", pin: secretPIN})
	insert(t, c, 0)
	a.waitCardRead(t, "555000000210")

	ps := browser.NewPageServer(t, "my.esr.nhs.uk")
	if ps.Origin("my.esr.nhs.uk") != signOrigin {
		t.Skipf("the page server could not take port 443, so the page's origin (%s) is not the allow-listed one", ps.Origin("my.esr.nhs.uk"))
	}
	digest := sha256.Sum256([]byte("<SignedInfo>discharge letter</SignedInfo>"))
	ps.HandleHTML("my.esr.nhs.uk", "/", fmt.Sprintf(webEIDPage, a.port, base64.StdEncoding.EncodeToString(digest[:]), testNonce))
	p := browser.OpenWith(t, ps.URL("my.esr.nhs.uk", "/"), browser.Options{Hosts: ps.Hosts(), Public: true, Grant: []string{"local-network-access"}})

	type line struct {
		Kind    string
		Code    string
		Message string
		Value   json.RawMessage
	}
	got := map[string]line{}
	_, err := p.WaitConsole(60*time.Second, func(text string) bool {
		var l line
		if json.Unmarshal([]byte(text), &l) != nil || l.Kind == "" {
			return false
		}
		got[l.Kind] = l
		return l.Kind == "refused" || l.Kind == "error"
	})
	if err != nil || got["error"].Kind != "" {
		t.Fatalf("the page did not finish: %v %+v", err, got)
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
	var tok webeid.Token
	if err := json.Unmarshal(got["token"].Value, &tok); err != nil {
		t.Fatalf("authenticate() = %s: %v", got["token"].Value, err)
	}
	if tok.Format != "web-eid:1.1" {
		t.Errorf("authenticate({getSigningCertificate: true}) answered format %q", tok.Format)
	}
	if v, err := webeid.Verify(&tok, signOrigin, testNonce, time.Now()); err != nil || !v.Equal(cert) {
		t.Errorf("the page's token does not verify: %v", err)
	}
	if r := got["refused"]; r.Code != "BAD_REQUEST" {
		t.Errorf("a digest of the wrong length: %+v, want BAD_REQUEST", r)
	}
	if n := getPINs(t, pinLog); n != 2 {
		t.Errorf("%d PIN prompts for one signature and one login, want 2", n)
	}
	assertNoPINInLogs(t, a.log, pinLog)
}
