package webeid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/piv"
)

// TestCreateVerify signs with each key type like the card does and checks that Verify
// accepts the token and that the card was given hash(SignedValue), that is
// hash(hash(origin) || hash(nonce)): one hash over the concatenation.
func TestCreateVerify(t *testing.T) {
	for _, tk := range testKeys {
		t.Run(tk.name, func(t *testing.T) {
			key := tk.key()
			cert := newCert(t, key, testNotBefore, testNotAfter)
			card := &cardSigner{key: key}
			tok, err := Create(context.Background(), card, cert, testOrigin, testNonce, testAppVersion)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if tok.Algorithm != tk.alg || tok.Format != Format || tok.AppVersion != testAppVersion {
				t.Errorf("token algorithm %q format %q appVersion %q", tok.Algorithm, tok.Format, tok.AppVersion)
			}
			if tok.UnverifiedCertificate != base64.StdEncoding.EncodeToString(cert.Raw) {
				t.Errorf("unverifiedCertificate is not the standard Base64 of the certificate")
			}
			sig, err := base64.StdEncoding.DecodeString(tok.Signature)
			if err != nil || len(sig) != tk.sigSize {
				t.Errorf("signature is %d bytes (%v), want %d", len(sig), err, tk.sigSize)
			}
			ho, hn, h := tk.hash.New(), tk.hash.New(), tk.hash.New()
			ho.Write([]byte(testOrigin))
			hn.Write([]byte(testNonce))
			h.Write(ho.Sum(nil))
			h.Write(hn.Sum(nil))
			if card.calls != 1 || card.lastHash != tk.hash || !bytes.Equal(card.lastDigest, h.Sum(nil)) {
				t.Errorf("card signed %v %x in %d calls, want %v hash(hash(origin) || hash(nonce))", card.lastHash, card.lastDigest, card.calls, tk.hash)
			}
			got, err := Verify(tok, testOrigin, testNonce, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !got.Equal(cert) {
				t.Errorf("Verify returned a different certificate")
			}
		})
	}
}

// pivSigner signs the way the agent drives a PIV card: the host pads SHA-256(value) with
// piv.PKCS1v15Pad and the card applies the raw RSA private key to the block.
type pivSigner struct{ key *rsa.PrivateKey }

func (p pivSigner) Public() crypto.PublicKey { return p.key.Public() }

func (p pivSigner) Sign(_ context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	block, err := piv.PKCS1v15Pad(hash, digest, p.key.Size())
	if err != nil {
		return nil, err
	}
	m := new(big.Int).SetBytes(block)
	return m.Exp(m, p.key.D, p.key.N).FillBytes(make([]byte, p.key.Size())), nil
}

// TestCreateWithPIVPadding proves a token signed through piv.PKCS1v15Pad, as GENERAL
// AUTHENTICATE with AlgRSA2048 does, is a valid RS256 token.
func TestCreateWithPIVPadding(t *testing.T) {
	key := testRSAKey().(*rsa.PrivateKey)
	cert := newCert(t, key, testNotBefore, testNotAfter)
	tok, err := Create(context.Background(), pivSigner{key}, cert, testOrigin, testNonce, testAppVersion)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := Verify(tok, testOrigin, testNonce, testNow); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// shortComponent reports whether a DER ECDSA signature has an r or s shorter than size
// bytes, which r||s must left-pad.
func shortComponent(size int) func([]byte) bool {
	return func(der []byte) bool {
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return false
		}
		return len(rs.R.Bytes()) < size || len(rs.S.Bytes()) < size
	}
}

// TestCreateShortECDSAComponents signs until the card's DER has an r or s with leading
// zero bytes stripped and checks the token still carries fixed-length r||s that verifies.
func TestCreateShortECDSAComponents(t *testing.T) {
	for _, tk := range testKeys[1:] {
		t.Run(tk.name, func(t *testing.T) {
			key := tk.key()
			cert := newCert(t, key, testNotBefore, testNotAfter)
			for i := range 3 {
				card := &cardSigner{key: key, accept: shortComponent(tk.sigSize / 2)}
				tok, err := Create(context.Background(), card, cert, testOrigin, testNonce, testAppVersion)
				if err != nil {
					t.Fatalf("Create %d: %v", i, err)
				}
				if sig, _ := base64.StdEncoding.DecodeString(tok.Signature); len(sig) != tk.sigSize {
					t.Fatalf("signature is %d bytes, want %d", len(sig), tk.sigSize)
				}
				if _, err := Verify(tok, testOrigin, testNonce, testNow); err != nil {
					t.Fatalf("Verify %d: %v", i, err)
				}
			}
		})
	}
}

func TestECDSADERToP1363(t *testing.T) {
	pub := testP256Key().Public().(*ecdsa.PublicKey)
	n := elliptic.P256().Params().N
	der := func(r, s *big.Int) []byte {
		return must(asn1.Marshal(struct{ R, S *big.Int }{r, s}))
	}
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1))
	want := make([]byte, 64)
	want[31] = 1
	nMinus1.FillBytes(want[32:])
	got, err := ecdsaDERToP1363(der(big.NewInt(1), nMinus1), pub)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("r=1 s=N-1: got %x, %v; want %x", got, err, want)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"not DER":        []byte("not a signature"),
		"trailing bytes": append(der(big.NewInt(1), big.NewInt(2)), 0),
		"r zero":         der(big.NewInt(0), big.NewInt(2)),
		"s negative":     der(big.NewInt(1), big.NewInt(-2)),
		"r equals N":     der(n, big.NewInt(2)),
		"s too long":     der(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 300)),
		"P1363 not DER":  want,
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			if got, err := ecdsaDERToP1363(b, pub); err == nil {
				t.Errorf("accepted, gave %x", got)
			}
		})
	}
}

func TestFixRSALength(t *testing.T) {
	if got, err := fixRSALength([]byte{1, 2}, 4); err != nil || !bytes.Equal(got, []byte{0, 0, 1, 2}) {
		t.Errorf("short signature: %x, %v", got, err)
	}
	for _, b := range [][]byte{nil, {1, 2, 3, 4, 5}} {
		if got, err := fixRSALength(b, 4); err == nil {
			t.Errorf("fixRSALength(%x) = %x, want an error", b, got)
		}
	}
}

// TestCreateErrors checks the inputs and card failures Create refuses, and which errors
// wrap ErrInvalidInput.
func TestCreateErrors(t *testing.T) {
	key := testP256Key()
	cert := newCert(t, key, testNotBefore, testNotAfter)
	otherCert := newCert(t, testP384Key(), testNotBefore, testNotAfter)
	cardErr := errors.New("card removed")
	tests := []struct {
		name       string
		signer     Signer
		nilSigner  bool
		useCert    int // 0: cert, 1: nil, 2: otherCert
		origin     string
		nonce      string
		appVersion string
		badInput   bool
		wrapped    error
		want       string // in the error message
	}{
		{name: "bad origin", origin: "http://evil.example", badInput: true, want: "plain http is allowed only for localhost"},
		{name: "null origin", origin: "null", badInput: true, want: "opaque origin"},
		{name: "short nonce", nonce: testNonce[:43], badInput: true, want: "nonce is 43 characters"},
		{name: "nonce not base64", nonce: strings.Repeat("!", 44), badInput: true, want: "not a Base64 character"},
		{name: "no app version", appVersion: "-", want: "check app version: empty"},
		{name: "app version not a URL", appVersion: "1.2.3", want: "not an https URL"},
		{name: "nil signer", nilSigner: true, want: "no signer"},
		{name: "nil certificate", useCert: 1, want: "no certificate"},
		{name: "certificate of another key", useCert: 2, want: "signer's key is not the certificate's key"},
		{name: "signer of another key", signer: &cardSigner{key: testP256Key2()}, want: "signer's key is not the certificate's key"},
		{name: "card error", signer: &cardSigner{key: key, err: cardErr}, wrapped: cardErr, want: "sign: card removed"},
		{name: "card gives garbage", signer: &cardSigner{key: key, transform: func([]byte) []byte { return []byte{0x30, 0} }}, want: "parse DER ECDSA signature"},
		{name: "card gives P1363", signer: &cardSigner{key: key, transform: func(der []byte) []byte { return must(ecdsaDERToP1363(der, key.Public().(*ecdsa.PublicKey))) }}, want: "parse DER ECDSA signature"},
		{name: "card signs something else", signer: &cardSigner{key: key, transform: func([]byte) []byte {
			return must(ecdsa.SignASN1(rand.Reader, key.(*ecdsa.PrivateKey), make([]byte, 32)))
		}}, want: "does not verify with the certificate's key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.signer
			if s == nil && !tt.nilSigner {
				s = &cardSigner{key: key}
			}
			c := [...]*x509.Certificate{cert, nil, otherCert}[tt.useCert]
			origin, nonce, app := tt.origin, tt.nonce, tt.appVersion
			if origin == "" {
				origin = testOrigin
			}
			if nonce == "" {
				nonce = testNonce
			}
			switch app {
			case "":
				app = testAppVersion
			case "-":
				app = ""
			}
			tok, err := Create(context.Background(), s, c, origin, nonce, app)
			if err == nil {
				t.Fatalf("Create succeeded: %+v", tok)
			}
			if !strings.HasPrefix(err.Error(), "create token: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if got := errors.Is(err, ErrInvalidInput); got != tt.badInput {
				t.Errorf("errors.Is(%v, ErrInvalidInput) = %v, want %v", err, got, tt.badInput)
			}
			if tt.wrapped != nil && !errors.Is(err, tt.wrapped) {
				t.Errorf("error %v does not wrap %v", err, tt.wrapped)
			}
		})
	}
}

// TestCreateRSAShortSignature checks that an RSA signature with its leading zero bytes
// dropped by the card is left-padded back to the key size.
func TestCreateRSAShortSignature(t *testing.T) {
	key := testRSAKey()
	cert := newCert(t, key, testNotBefore, testNotAfter)
	// Dropping a byte that is not zero changes the signature: Create must notice.
	card := &cardSigner{key: key, transform: func(sig []byte) []byte { return bytes.TrimLeft(sig, "\x00")[1:] }}
	if _, err := Create(context.Background(), card, cert, testOrigin, testNonce, testAppVersion); err == nil {
		t.Fatal("a signature missing a non-zero byte was accepted")
	}
	// A card that drops leading zero bytes: sign nonces until a signature has one, so that
	// the left-padding is exercised (about one signature in 256).
	trimmed := false
	card = &cardSigner{key: key, transform: func(sig []byte) []byte {
		out := bytes.TrimLeft(sig, "\x00")
		trimmed = len(out) < len(sig)
		return out
	}}
	for i := 0; i < 4000 && !trimmed; i++ {
		nonce := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "nonce %026d", i))
		tok, err := Create(context.Background(), card, cert, testOrigin, nonce, testAppVersion)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := Verify(tok, testOrigin, nonce, testNow); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if !trimmed {
		t.Fatal("no signature with a leading zero byte in 4000")
	}
}

func TestAlgorithmFor(t *testing.T) {
	tests := []struct {
		name string
		pub  crypto.PublicKey
		alg  string
		hash crypto.Hash
	}{
		{"RSA", testRSAKey().Public(), "RS256", crypto.SHA256},
		{"P-256", testP256Key().Public(), "ES256", crypto.SHA256},
		{"P-384", testP384Key().Public(), "ES384", crypto.SHA384},
		{"P-521", testP521Key().Public(), "ES512", crypto.SHA512},
		{"P-224", must(ecdsa.GenerateKey(elliptic.P224(), rand.Reader)).Public(), "", 0},
		{"Ed25519", must2(ed25519.GenerateKey(rand.Reader)), "", 0},
		{"nil", nil, "", 0},
		{"nil RSA", (*rsa.PublicKey)(nil), "", 0},
		{"nil ECDSA", (*ecdsa.PublicKey)(nil), "", 0},
		{"RSA value", *testRSAKey().Public().(*rsa.PublicKey), "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alg, hash, err := algorithmFor(tt.pub)
			if alg != tt.alg || hash != tt.hash || (err == nil) != (tt.alg != "") {
				t.Errorf("algorithmFor = %q, %v, %v; want %q, %v", alg, hash, err, tt.alg, tt.hash)
			}
		})
	}
}

func must2[T, U any](v T, _ U, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSignedValue recomputes the signed data longhand for each hash: hash(origin) ||
// hash(nonce), not hashed again.
func TestSignedValue(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		ho, hn := h.New(), h.New()
		ho.Write([]byte(testOrigin))
		hn.Write([]byte(testNonce))
		want := append(ho.Sum(nil), hn.Sum(nil)...)
		got := SignedValue(h, testOrigin, testNonce)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: got %x, want %x", h, got, want)
		}
		if len(got) != 2*h.Size() {
			t.Errorf("%v: %d bytes, want %d", h, len(got), 2*h.Size())
		}
	}
	// The nonce is signed as its text, never decoded.
	decoded, _ := base64.StdEncoding.DecodeString(testNonce)
	if bytes.Equal(SignedValue(crypto.SHA256, testOrigin, testNonce), SignedValue(crypto.SHA256, testOrigin, string(decoded))) {
		t.Error("the value is the same for the decoded nonce")
	}
	for _, h := range []crypto.Hash{0, crypto.SHA1, crypto.MD5, crypto.SHA3_256} {
		if got := SignedValue(h, testOrigin, testNonce); got != nil {
			t.Errorf("%v: got %x, want nil", h, got)
		}
	}
}

// TestSignedValueKnownAnswer pins the signed data, and the digest the card signs, for the
// origin and nonce of the Web eID validation library's tests, computed outside Go with
// sha256sum:
//
//	a=$(printf %s https://ria.ee | sha256sum | cut -d' ' -f1)
//	b=$(printf %s 12345678123456781234567812345678912356789123 | sha256sum | cut -d' ' -f1)
//	echo "$a$b"                              # the data: hash(origin) || hash(nonce)
//	printf %s "$a$b" | xxd -r -p | sha256sum # the digest the card signs
func TestSignedValueKnownAnswer(t *testing.T) {
	const origin, nonce = "https://ria.ee", "12345678123456781234567812345678912356789123"
	const (
		originHash = "3a0de594ddc5e6d2db6ac36788ccd4102b7eb272e4d610ea8956317ccf616f92"
		nonceHash  = "c5e0172f14dffbe8d725a65645554863f0d14ee50b9a38034e93f7e7305df864"
		cardDigest = "b279891a871202b377cf749958337a6ac4b69c00ede9746966c00b7887f07f14"
	)
	value := SignedValue(crypto.SHA256, origin, nonce)
	if got := hex.EncodeToString(value); got != originHash+nonceHash {
		t.Errorf("SignedValue = %s, want %s", got, originHash+nonceHash)
	}
	if got := hex.EncodeToString(digest(crypto.SHA256, value)); got != cardDigest {
		t.Errorf("digest the card signs = %s, want %s", got, cardDigest)
	}
	if err := ValidateNonce(nonce); err != nil {
		t.Errorf("ValidateNonce(%q): %v", nonce, err)
	}
}

// TestTokenJSON checks the marshalled token has exactly the five Web eID keys, all strings.
func TestTokenJSON(t *testing.T) {
	tok, _ := createToken(t, testP256Key())
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, k)
		if s, ok := v.(string); !ok || s == "" {
			t.Errorf("%s is %#v, want a non-empty string", k, v)
		}
	}
	slices.Sort(keys)
	if want := []string{"algorithm", "appVersion", "format", "signature", "unverifiedCertificate"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if m["format"] != "web-eid:1.0" {
		t.Errorf("format %v", m["format"])
	}
	// An empty token still has all five keys.
	b, _ = json.Marshal(Token{})
	if got := string(b); got != `{"unverifiedCertificate":"","algorithm":"","signature":"","format":"","appVersion":""}` {
		t.Errorf("empty token marshals as %s", got)
	}
}

func TestAppVersionURL(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3":         "https://github.com/cardbridge/cardbridge/releases/tag/v1.2.3",
		"v1.2.3":        "https://github.com/cardbridge/cardbridge/releases/tag/v1.2.3",
		"0.1.0-dev":     "https://github.com/cardbridge/cardbridge/releases/tag/v0.1.0-dev",
		"1.0.0+abcdef0": "https://github.com/cardbridge/cardbridge/releases/tag/v1.0.0+abcdef0",
	} {
		got := AppVersionURL(in)
		if got != want {
			t.Errorf("AppVersionURL(%q) = %q, want %q", in, got, want)
		}
		if err := checkAppVersion(got); err != nil {
			t.Errorf("checkAppVersion(%q): %v", got, err)
		}
	}
}
