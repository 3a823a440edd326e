//go:build linux && cgo

package tests

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/tests/browser"
)

// nhsSigningPage signs the way NHS's prescription-signing pages do: find
// the user's agent through the port service's well-known ports with axios,
// then call signingHub.requestToSign with signalr-no-jquery over
// longPolling.
const nhsSigningPage = `<!doctype html>
<meta charset="utf-8">
<title>prescription signing</title>
<script src="/node_modules/axios/dist/axios.min.js"></script>
<script src="/cjsload.js"></script>
<script>
const report = (o) => console.log(JSON.stringify(o));
const wait = (d) => new Promise((resolve, reject) => d.done(resolve).fail(reject));
(async () => {
  try {
    let port = null;
    for (const p of [43487, 44213, 45031, 46478, 48853]) {
      try {
        const r = await axios.get("http://localhost:" + p + "/PRS/GetPortNumber", { timeout: 3000 });
        if (r.data && r.data.portData) { port = r.data.portData.portNumber; break; }
      } catch (e) { /* try the next port */ }
    }
    if (!port) { report({ kind: "error", message: "no port service answered" }); return; }
    report({ kind: "port", port });
    const { hubConnection } = await requirePackage("signalr-no-jquery");
    const connection = hubConnection("http://localhost:" + port);
    const hub = connection.createHubProxy("signingHub");
    await wait(connection.start({ transport: "longPolling" }));
    const request = btoa(JSON.stringify({ algorithm: "RS256", requestType: 1, version: 1, flags: 0,
      payloads: [{ id: "rx-1", payload: btoa("<SignedInfo>prescription 1</SignedInfo>") },
                 { id: "rx-2", payload: btoa("<SignedInfo>prescription 2</SignedInfo>") }] }));
    const result = await wait(hub.invoke("requestToSign", request));
    report({ kind: "result", result });
    connection.stop();
  } catch (e) {
    report({ kind: "error", message: String((e && e.message) || e) });
  }
})();
</script>`

func TestBrowserNHSSigningCompatibility(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	dir := testutil.SharedTempDir(t)
	// The port service on the NHS well-known ports, as on a real host.
	ps := &portService{dir: filepath.Join(dir, "state"), socket: filepath.Join(dir, "portservice.sock"), port: 43487, lo: 56400, hi: 56499,
		extra: []string{"--ports", "43487,44213,45031,46478,48853"}}
	ps.start(t)
	t.Cleanup(func() { ps.stop(t) })

	pinLog := filepath.Join(t.TempDir(), "pinentry.log")
	if err := os.WriteFile(filepath.Join(binDir, "fakepinentry.conf"), []byte("FAKEPINENTRY_PIN="+secretPIN+"\nFAKEPINENTRY_LOG="+pinLog+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tu := &testUser{}
	startRootAgent(t, ps, tu, t.TempDir(), "--pinentry", filepath.Join(binDir, "fakepinentry"))
	c, cert, _ := newCard(t, testCard{uuid: "555000000095", pin: secretPIN})
	insert(t, c, 0)

	pageServer := browser.NewPageServer(t, "my.esr.nhs.uk")
	if pageServer.Origin("my.esr.nhs.uk") != "https://my.esr.nhs.uk" {
		t.Skip("the page server could not take port 443")
	}
	loader, err := os.ReadFile(filepath.Join(browser.Dir, "cjsload.js"))
	if err != nil {
		t.Fatal(err)
	}
	pageServer.Handle("my.esr.nhs.uk", "/cjsload.js", "text/javascript", loader)
	pageServer.HandleHTML("my.esr.nhs.uk", "/", nhsSigningPage)
	p := browser.OpenWith(t, pageServer.URL("my.esr.nhs.uk", "/"), browser.Options{Hosts: pageServer.Hosts(), Public: true, Grant: []string{"local-network-access"}})

	var result struct {
		Kind    string
		Message string
		Result  struct {
			Certificate string `json:"certificate"`
			StatusCode  int    `json:"status_code"`
			Signatures  []struct{ ID, Signature string }
			Failed      []any `json:"failed_signatures"`
		}
	}
	_, err = p.WaitConsole(60*time.Second, func(text string) bool {
		return json.Unmarshal([]byte(text), &result) == nil && (result.Kind == "result" || result.Kind == "error")
	})
	if err != nil || result.Kind != "result" {
		t.Fatalf("the page did not sign: %v %+v", err, result)
	}
	r := result.Result
	der, _ := base64.StdEncoding.DecodeString(r.Certificate)
	if r.StatusCode != 0 || string(der) != string(cert.Raw) || len(r.Signatures) != 2 || len(r.Failed) != 0 {
		t.Fatalf("result = %+v", r)
	}
	for i, s := range r.Signatures {
		sig, _ := base64.StdEncoding.DecodeString(s.Signature)
		d := sha256.Sum256([]byte("<SignedInfo>prescription " + string(rune('1'+i)) + "</SignedInfo>"))
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil || s.ID != "rx-"+string(rune('1'+i)) {
			t.Errorf("signature %s does not verify against the card's certificate: %v", s.ID, err)
		}
	}
	pl, _ := os.ReadFile(pinLog)
	if !strings.Contains(string(pl), "https://my.esr.nhs.uk asks to use your smartcard") {
		t.Errorf("the PIN prompt did not name the page:\n%s", pl)
	}
	assertNoPINInLogs(t, tu.log, pinLog, filepath.Join(ps.dir, "portservice.log"))
}
