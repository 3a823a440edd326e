package httpapi

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
	"github.com/cardbridge/cardbridge/webeid"
)

// signBackend is a card whose signing certificate a test sets; it records the signing
// sessions asked for, which it refuses as an agent without a PIN prompt does (a session
// needs a card on PC/SC: tests/ sign for real).
type signBackend struct {
	fakeBackend
	cert *x509.Certificate // the card's signing certificate
	err  error             // SigningCertificate's error, when set
	// unavailable makes PC/SC unavailable.
	unavailable bool

	mu       sync.Mutex
	sessions []string // "login ORIGIN" or "signature ORIGIN"
	asked    int      // SigningCertificate calls
}

func (b *signBackend) SigningCertificate(context.Context) (*x509.Certificate, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked++
	if b.err != nil {
		return nil, b.err
	}
	return b.cert, nil
}

func (b *signBackend) OpenSigner(_ context.Context, origin string) (*agent.CardSigner, error) {
	b.record("login " + origin)
	return nil, agent.ErrNoPINPrompt
}

func (b *signBackend) OpenSignatureSigner(_ context.Context, origin string) (*agent.CardSigner, error) {
	b.record("signature " + origin)
	return nil, agent.ErrNoPINPrompt
}

func (b *signBackend) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = append(b.sessions, s)
}

// errUnavailable stands for PC/SC not running in the tables below.
var errUnavailable = fmt.Errorf("no PC/SC: %w", pcsc.ErrUnavailable)

// newSignServer is a Server on b, whose routes the tests call without the Guard.
func newSignServer(t *testing.T, b *signBackend) *Server {
	t.Helper()
	if !b.unavailable {
		b.set(true)
	}
	list, bad := domainlist.Parse([]byte(testDomains))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	return New(Options{
		Backend: b,
		Domains: func() localhttp.DomainInfo { return localhttp.DomainInfo{List: list} },
		Self:    me,
		Logger:  zerolog.Nop(),
	})
}

// post sends a POST to the server's routes (the Guard's checks are TestGuard's).
func post(s *Server, path, origin, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "http://localhost:43485"+path, strings.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.routes.ServeHTTP(w, req)
	return w
}

// testCertificate is a certificate of the NHS card holder 555123456789 for key.
func testCertificate(t *testing.T, key crypto.Signer, serial int64) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "555123456789", OrganizationalUnit: []string{"People"}, Organization: []string{"nhs"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// signBody is the JSON of a sign request.
func signBody(cert *x509.Certificate, hash []byte, hashFunction string) string {
	b, _ := json.Marshal(webeid.SignRequest{
		Certificate:  base64.StdEncoding.EncodeToString(cert.Raw),
		Hash:         base64.StdEncoding.EncodeToString(hash),
		HashFunction: hashFunction,
	})
	return string(b)
}

// TestSigningCertificateEndpoint: the answer is Web eID's {certificate,
// supportedSignatureAlgorithms}, with no PIN and no card I/O; a missing or unusable
// card is a clear error.
func TestSigningCertificateEndpoint(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaCert, ecCert := testCertificate(t, rsaKey, 1), testCertificate(t, ecKey, 2)
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string // the supported algorithms
	}{
		{"RSA", rsaCert, `[{"cryptoAlgorithm":"RSA","hashFunction":"SHA-256","paddingScheme":"PKCS1.5"},{"cryptoAlgorithm":"RSA","hashFunction":"SHA-384","paddingScheme":"PKCS1.5"},{"cryptoAlgorithm":"RSA","hashFunction":"SHA-512","paddingScheme":"PKCS1.5"}]`},
		{"EC", ecCert, `[{"cryptoAlgorithm":"ECC","hashFunction":"SHA-256","paddingScheme":"NONE"},{"cryptoAlgorithm":"ECC","hashFunction":"SHA-384","paddingScheme":"NONE"},{"cryptoAlgorithm":"ECC","hashFunction":"SHA-512","paddingScheme":"NONE"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &signBackend{cert: tc.cert}
			s := newSignServer(t, b)
			for _, body := range []string{"", "{}", " { } \n"} {
				w := post(s, "/api/signing-certificate", "https://my.esr.nhs.uk", body)
				want := `{"certificate":"` + base64.StdEncoding.EncodeToString(tc.cert.Raw) + `","supportedSignatureAlgorithms":` + tc.want + "}\n"
				if w.Code != 200 || w.Body.String() != want {
					t.Errorf("body %q: %d %s\nwant %s", body, w.Code, w.Body, want)
				}
			}
			if len(b.sessions) != 0 {
				t.Errorf("a signing session was opened: %q", b.sessions)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		err    error
		body   string
		status int
		code   api.Code
	}{
		{"no card", fmt.Errorf("sign: %w", pcsc.ErrNoCard), "", 404, api.CodeNoCard},
		{"unreadable slot 9C", fmt.Errorf("the card in \"R0\" has a digital signature certificate (slot 9C) that cannot be read: %w", piv.ErrUnsupportedCard), "", 422, api.CodeUnsupportedCard},
		{"a body with fields", nil, `{"lang":"en"}`, 400, api.CodeBadRequest},
		{"PC/SC not running", errUnavailable, "", 503, api.CodePCSCUnavailable},
		{"not JSON", nil, `certificate please`, 400, api.CodeBadRequest},
		{"two objects", nil, `{}{}`, 400, api.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSignServer(t, &signBackend{cert: rsaCert, err: tc.err, unavailable: tc.err == errUnavailable})
			w := post(s, "/api/signing-certificate", "https://my.esr.nhs.uk", tc.body)
			if w.Code != tc.status || errorCode(w.Body.Bytes()) != string(tc.code) {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
		})
	}
}

// TestSignEndpointChecksBeforeThePIN: every bad request, and a certificate that is not
// the card's, is refused with a clear error before any signing session (and so any PIN
// prompt) begins; a good one opens a signature session (not a login one) naming the
// page's origin.
func TestSignEndpointChecksBeforeThePIN(t *testing.T) {
	cardKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	card := testCertificate(t, cardKey, 1)
	sameHolderOtherCard := testCertificate(t, otherKey, 2)
	d256 := sha256.Sum256([]byte("a prescription"))
	d384 := sha512.Sum384([]byte("a prescription"))
	good := signBody(card, d256[:], "SHA-256")
	tests := []struct {
		name    string
		origin  string
		body    string
		cardErr error
		status  int
		code    api.Code
		message string // in the error message
	}{
		{"no Origin", "", good, nil, 400, api.CodeBadRequest, "signing is for web pages"},
		{"opaque origin", "null", good, nil, 400, api.CodeBadRequest, "opaque origin"},
		{"not JSON", "https://my.esr.nhs.uk", "sign this", nil, 400, api.CodeBadRequest, `the body must be {"certificate"`},
		{"unknown field", "https://my.esr.nhs.uk", strings.TrimSuffix(good, "}") + `,"lang":"en"}`, nil, 400, api.CodeBadRequest, `the body must be`},
		{"hash of the wrong length", "https://my.esr.nhs.uk", signBody(card, d384[:], "SHA-256"), nil, 400, api.CodeBadRequest, "a SHA-256 hash is 32 bytes, this one is 48"},
		{"unknown hashFunction", "https://my.esr.nhs.uk", signBody(card, d256[:], "SHA256"), nil, 400, api.CodeBadRequest, `unknown hashFunction "SHA256": use SHA-256, SHA-384, SHA-512`},
		{"hashFunction not offered", "https://my.esr.nhs.uk", signBody(card, d256[:], "SHA3-256"), nil, 400, api.CodeBadRequest, "hashFunction SHA3-256 is not one cardbridge signs with"},
		{"hash not Base64", "https://my.esr.nhs.uk", strings.Replace(good, base64.StdEncoding.EncodeToString(d256[:]), "%%%", 1), nil, 400, api.CodeBadRequest, "hash is not standard Base64"},
		{"certificate not Base64", "https://my.esr.nhs.uk", strings.Replace(good, base64.StdEncoding.EncodeToString(card.Raw), "not-base64", 1), nil, 400, api.CodeBadRequest, "certificate is not standard Base64"},
		{"certificate not a certificate", "https://my.esr.nhs.uk", strings.Replace(good, base64.StdEncoding.EncodeToString(card.Raw), "AAAA", 1), nil, 400, api.CodeBadRequest, "certificate is not an X.509 certificate"},
		{"no card", "https://my.esr.nhs.uk", good, fmt.Errorf("sign: %w", pcsc.ErrNoCard), 404, api.CodeNoCard, "no card"},
		{"another card's certificate", "https://my.esr.nhs.uk", signBody(sameHolderOtherCard, d256[:], "SHA-256"), nil, 409, api.CodeWrongCard, "is not the card's signing certificate"},
		{"unusable signing key", "https://my.esr.nhs.uk", good, fmt.Errorf("the card's signing certificate has an EC key on P-384: %w", piv.ErrUnsupportedCard), 422, api.CodeUnsupportedCard, "P-384"},
		{"PC/SC not running", "https://my.esr.nhs.uk", good, errUnavailable, 503, api.CodePCSCUnavailable, "not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &signBackend{cert: card, err: tt.cardErr, unavailable: tt.cardErr == errUnavailable}
			s := newSignServer(t, b)
			w := post(s, "/api/sign", tt.origin, tt.body)
			var e api.ErrorBody
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("%d %s, want %d %s saying %q", w.Code, w.Body, tt.status, tt.code, tt.message)
			}
			if len(b.sessions) != 0 {
				t.Errorf("a signing session was opened for a request refused: %q", b.sessions)
			}
		})
	}
	// A good request, SHA-256 or SHA-384, opens a signature session for the page.
	for _, body := range []string{good, signBody(card, d384[:], "SHA-384")} {
		b := &signBackend{cert: card}
		w := post(newSignServer(t, b), "/api/sign", "https://my.esr.nhs.uk", body)
		if w.Code != 500 || errorCode(w.Body.Bytes()) != "INTERNAL" || !strings.Contains(w.Body.String(), "(--pinentry)") {
			t.Errorf("good request without a PIN prompt: %d %s", w.Code, w.Body)
		}
		if len(b.sessions) != 1 || b.sessions[0] != "signature https://my.esr.nhs.uk" {
			t.Errorf("sessions %q, want one signature session for the page", b.sessions)
		}
	}
	// Only POST.
	req := httptest.NewRequest("GET", "http://localhost:43485/api/sign", nil)
	w := httptest.NewRecorder()
	newSignServer(t, &signBackend{cert: card}).routes.ServeHTTP(w, req)
	if w.Code == 200 || w.Code == 500 {
		t.Errorf("GET /api/sign: %d", w.Code)
	}
}

// TestAuthenticateGetSigningCertificate: the 1.1 request form is taken; a card whose
// signing certificate cannot be used is refused before the PIN; the 1.0 form does not
// look at the signing certificate.
func TestAuthenticateGetSigningCertificate(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	card := testCertificate(t, key, 1)
	const nonce = "12345678123456781234567812345678912356789123"
	tests := []struct {
		name     string
		body     string
		cardErr  error
		status   int
		code     api.Code
		sessions int
		asked    int // SigningCertificate calls
	}{
		{"web-eid:1.0 request", `{"challenge":"` + nonce + `"}`, nil, 500, api.CodeInternal, 1, 0},
		{"web-eid:1.1 request", `{"challenge":"` + nonce + `","getSigningCertificate":true}`, nil, 500, api.CodeInternal, 1, 1},
		{"getSigningCertificate false", `{"challenge":"` + nonce + `","getSigningCertificate":false}`, nil, 500, api.CodeInternal, 1, 0},
		{"getSigningCertificate not a boolean", `{"challenge":"` + nonce + `","getSigningCertificate":"yes"}`, nil, 400, api.CodeBadRequest, 0, 0},
		{"unusable signing certificate", `{"challenge":"` + nonce + `","getSigningCertificate":true}`, fmt.Errorf("slot 9C: %w", piv.ErrUnsupportedCard), 422, api.CodeUnsupportedCard, 0, 1},
		{"no card", `{"challenge":"` + nonce + `","getSigningCertificate":true}`, fmt.Errorf("sign: %w", pcsc.ErrNoCard), 404, api.CodeNoCard, 0, 1},
		{"short challenge", `{"challenge":"short","getSigningCertificate":true}`, nil, 400, api.CodeBadRequest, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &signBackend{cert: card, err: tt.cardErr}
			w := post(newSignServer(t, b), "/api/authenticate", "https://my.esr.nhs.uk", tt.body)
			if w.Code != tt.status || errorCode(w.Body.Bytes()) != string(tt.code) {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
			if len(b.sessions) != tt.sessions || tt.sessions == 1 && b.sessions[0] != "login https://my.esr.nhs.uk" || b.asked != tt.asked {
				t.Errorf("sessions %q, signing certificate asked %d times; want %d login sessions and %d", b.sessions, b.asked, tt.sessions, tt.asked)
			}
		})
	}
}

// TestSignPreflight: a page's fetch of POST /api/sign with a JSON body is preflighted and
// allowed for an origin on the DomainList, as POST /api/authenticate is.
func TestSignPreflight(t *testing.T) {
	ts := startServer(t)
	for _, path := range []string{"/api/sign", "/api/signing-certificate"} {
		resp, _ := ts.do(t, "OPTIONS", path, map[string]string{
			"Origin":                         "https://my.esr.nhs.uk",
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "content-type",
		})
		h := resp.Header
		if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://my.esr.nhs.uk" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") {
			t.Errorf("%s preflight: %d %v", path, resp.StatusCode, h)
		}
		resp, body := ts.do(t, "POST", path, map[string]string{"Origin": "https://evil.example"})
		if resp.StatusCode != 403 || errorCode(body) != "ORIGIN_NOT_ALLOWED" {
			t.Errorf("%s from evil.example: %d %s", path, resp.StatusCode, body)
		}
	}
	// The real agent, with no card: a clear NO_CARD.
	ts.core.Apply(pcsc.Event{Type: pcsc.Available})
	resp, body := ts.do(t, "POST", "/api/signing-certificate", map[string]string{"Origin": "https://my.esr.nhs.uk"})
	if resp.StatusCode != http.StatusNotFound || errorCode(body) != "NO_CARD" {
		t.Errorf("signing certificate without a card: %d %s", resp.StatusCode, body)
	}
}
