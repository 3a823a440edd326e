//go:build linux && cgo

package tests

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/webeid"
)

// secretPIN is distinctive enough to find in any log that leaks it.
const secretPIN = "917364"

// startSigningAgent runs an agent whose PIN prompt is the scripted
// pinentry answering secretPIN, logging what it was asked to pinLog.
func startSigningAgent(t *testing.T) (*agentProc, string) {
	t.Helper()
	pinLog := filepath.Join(t.TempDir(), "pinentry.log")
	conf := fmt.Sprintf("FAKEPINENTRY_PIN=%s\nFAKEPINENTRY_LOG=%s\n", secretPIN, pinLog)
	if err := os.WriteFile(filepath.Join(binDir, "fakepinentry.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "--pinentry", filepath.Join(binDir, "fakepinentry"))
	a.waitReaders(t, 2)
	return a, pinLog
}

func (a *agentProc) post(t *testing.T, path, origin, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", a.base+path, bytes.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// waitCardRead waits until the agent has read the card's identity.
func (a *agentProc) waitCardRead(t *testing.T, uuid string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, body := a.get(t, "/api/card", ""); strings.Contains(string(body), uuid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent never read the card")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAuthenticateWebEID(t *testing.T) {
	needPCSCD(t)
	a, pinLog := startSigningAgent(t)
	c, cert, _ := newCard(t, testCard{uuid: "555000000093", pin: secretPIN})
	insert(t, c, 0)
	a.waitCardRead(t, "555000000093")

	status, body := a.post(t, "/api/authenticate", "https://my.esr.nhs.uk", "application/json", []byte(`{"challenge":"`+testNonce+`"}`))
	if status != 200 {
		t.Fatalf("authenticate: %d %s", status, body)
	}
	var tok webeid.Token
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	got, err := webeid.Verify(&tok, "https://my.esr.nhs.uk", testNonce, time.Now())
	if err != nil || !got.Equal(cert) || tok.Format != "web-eid:1.0" {
		t.Fatalf("token for my.esr.nhs.uk does not verify: %v (%s)", err, body)
	}
	if _, err := webeid.Verify(&tok, "https://other.spineservices.nhs.uk", testNonce, time.Now()); err == nil {
		t.Error("the token verified for another origin")
	}
	// The prompt named the page's origin.
	pl, _ := os.ReadFile(pinLog)
	if !strings.Contains(string(pl), "https://my.esr.nhs.uk asks to use your smartcard") {
		t.Errorf("pinentry was asked:\n%s", pl)
	}
	// Bad requests.
	for _, b := range []string{`{"challenge":"short"}`, `{"nonce":"` + testNonce + `"}`, `not json`} {
		if status, body := a.post(t, "/api/authenticate", "https://my.esr.nhs.uk", "application/json", []byte(b)); status != 400 || !strings.Contains(string(body), "BAD_REQUEST") {
			t.Errorf("%s: %d %s", b, status, body)
		}
	}
	if status, _ := a.post(t, "/api/authenticate", "https://evil.example", "application/json", []byte(`{"challenge":"`+testNonce+`"}`)); status != 403 {
		t.Errorf("evil origin: %d", status)
	}
	assertNoPINInLogs(t, a.log, pinLog)
}

// assertNoPINInLogs fails if the PIN appears in any of the files.
func assertNoPINInLogs(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("read %s: %v", f, err)
			continue
		}
		if bytes.Contains(b, []byte(secretPIN)) {
			t.Errorf("the PIN appears in %s", f)
		}
	}
}

// signalrClient speaks classic SignalR's longPolling as the JavaScript
// client does.
type signalrClient struct {
	t      *testing.T
	a      *agentProc
	origin string
	token  string
}

func (s *signalrClient) call(method, endpoint string, form url.Values) map[string]any {
	s.t.Helper()
	q := url.Values{"transport": {"longPolling"}, "clientProtocol": {"1.5"}, "connectionData": {`[{"name":"signinghub"}]`}}
	if s.token != "" {
		q.Set("connectionToken", s.token)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.a.base+"/signalr/"+endpoint+"?"+q.Encode(), body)
	req.Header.Set("Origin", s.origin)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(b, &m) != nil {
		s.t.Fatalf("%s %s: %d %s", method, endpoint, resp.StatusCode, b)
	}
	return m
}

func (s *signalrClient) connect() {
	neg := s.call("GET", "negotiate", nil)
	s.token, _ = neg["ConnectionToken"].(string)
	s.call("POST", "connect", url.Values{})
	s.call("GET", "start", nil)
}

func (s *signalrClient) requestToSign(req any) map[string]any {
	b, _ := json.Marshal(req)
	arg, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	inv := fmt.Sprintf(`{"H":"signinghub","M":"requestToSign","A":[%s],"I":0}`, arg)
	return s.call("POST", "send", url.Values{"data": {inv}})
}

func TestSigningHubRequestToSign(t *testing.T) {
	needPCSCD(t)
	a, pinLog := startSigningAgent(t)
	hub := &signalrClient{t: t, a: a, origin: "https://my.esr.nhs.uk"}
	hub.connect()
	payload := []byte("<SignedInfo>prescription 1</SignedInfo>")
	req := map[string]any{"algorithm": "RS256", "requestType": 1, "version": 1, "flags": 0,
		"payloads": []map[string]string{{"id": "1", "payload": base64.StdEncoding.EncodeToString(payload)}}}

	// No card: the NHS code for no certificate.
	res := hub.requestToSign(req)
	if r, _ := res["R"].(map[string]any); r == nil || r["status_code"] != float64(0x53494705) {
		t.Fatalf("without a card: %v", res)
	}

	c, cert, _ := newCard(t, testCard{uuid: "555000000094", pin: secretPIN})
	insert(t, c, 0)
	a.waitCardRead(t, "555000000094")

	// Requests that cannot be signed in full are refused as malformed
	// before the user is asked for a PIN.
	good := map[string]string{"id": "1", "payload": base64.StdEncoding.EncodeToString(payload)}
	for name, bad := range map[string]map[string]any{
		"bad base64":         {"algorithm": "RS256", "payloads": []map[string]string{good, {"id": "2", "payload": "%%%"}}},
		"empty payload":      {"algorithm": "RS256", "payloads": []map[string]string{good, {"id": "2", "payload": ""}}},
		"payload without id": {"algorithm": "RS256", "payloads": []map[string]string{{"payload": good["payload"]}}},
		"unknown algorithm":  {"algorithm": "RS512", "payloads": []map[string]string{good}},
		"no payloads":        {"algorithm": "RS256", "payloads": []map[string]string{}},
	} {
		res := hub.requestToSign(bad)
		if r, _ := res["R"].(map[string]any); r == nil || r["status_code"] != float64(0x53494703) || len(r["signatures"].([]any)) != 0 {
			t.Errorf("%s: %v", name, res)
		}
	}
	if pl, _ := os.ReadFile(pinLog); bytes.Contains(pl, []byte("GETPIN")) {
		t.Fatalf("the PIN was asked for a request that cannot be signed:\n%s", pl)
	}

	res = hub.requestToSign(req)
	r, _ := res["R"].(map[string]any)
	if r == nil || r["status_code"] != float64(0) {
		t.Fatalf("requestToSign: %v", res)
	}
	der, _ := base64.StdEncoding.DecodeString(r["certificate"].(string))
	if !bytes.Equal(der, cert.Raw) {
		t.Error("the answer's certificate is not the card's")
	}
	sigs := r["signatures"].([]any)
	failed := r["failed_signatures"].([]any)
	if len(sigs) != 1 || len(failed) != 0 {
		t.Fatalf("signatures %v, failed %v", sigs, failed)
	}
	sig, _ := base64.StdEncoding.DecodeString(sigs[0].(map[string]any)["signature"].(string))
	d := sha256.Sum256(payload)
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Errorf("RS256 signature does not verify: %v", err)
	}
	// RS1 (SHA-1) with the RSA card.
	req["algorithm"] = "RS1"
	req["payloads"] = []map[string]string{{"id": "a", "payload": base64.StdEncoding.EncodeToString(payload)}}
	res = hub.requestToSign(req)
	r, _ = res["R"].(map[string]any)
	if r == nil || r["status_code"] != float64(0) || len(r["signatures"].([]any)) != 1 {
		t.Fatalf("RS1: %v", res)
	}
	sig, _ = base64.StdEncoding.DecodeString(r["signatures"].([]any)[0].(map[string]any)["signature"].(string))
	d1 := sha1.Sum(payload)
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA1, d1[:], sig); err != nil {
		t.Errorf("RS1 signature does not verify: %v", err)
	}
	// An EC card signs with ECDSA.
	remove(t, c, 0)
	ec, ecCert, _ := newCard(t, testCard{uuid: "555000000097", alg: "p256", pin: secretPIN})
	insert(t, ec, 0)
	a.waitCardRead(t, "555000000097")
	req["algorithm"] = "RS256"
	res = hub.requestToSign(req)
	r, _ = res["R"].(map[string]any)
	if r == nil || r["status_code"] != float64(0) || len(r["signatures"].([]any)) != 1 {
		t.Fatalf("EC card: %v", res)
	}
	sig, _ = base64.StdEncoding.DecodeString(r["signatures"].([]any)[0].(map[string]any)["signature"].(string))
	if !ecdsa.VerifyASN1(ecCert.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Error("the EC card's signature does not verify")
	}
	// A malformed request.
	b64, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte("{not json")))
	res = hub.call("POST", "send", url.Values{"data": {fmt.Sprintf(`{"H":"signinghub","M":"requestToSign","A":[%s],"I":1}`, b64)}})
	if r, _ := res["R"].(map[string]any); r == nil || r["status_code"] != float64(0x53494703) {
		t.Errorf("malformed request: %v", res)
	}
	assertNoPINInLogs(t, a.log, pinLog)
}
