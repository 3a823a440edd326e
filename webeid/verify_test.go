package webeid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestVerifyOtherOriginOrNonce checks a token answers only the origin and nonce it was made
// for.
func TestVerifyOtherOriginOrNonce(t *testing.T) {
	// A nonce whose standard and URL-safe forms differ: the signature covers the text.
	raw := make([]byte, 33)
	for i := range raw {
		raw[i] = 0xFB
	}
	stdNonce := base64.StdEncoding.EncodeToString(raw)
	urlNonce := base64.URLEncoding.EncodeToString(raw)
	for _, tk := range testKeys[:2] {
		key := tk.key()
		cert := newCert(t, key, testNotBefore, testNotAfter)
		tok, err := Create(context.Background(), &cardSigner{key: key}, cert, testOrigin, stdNonce, testAppVersion)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := Verify(tok, testOrigin, stdNonce, testNow); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		tests := []struct{ name, origin, nonce string }{
			{"other site", "https://evil.example", stdNonce},
			{"suffix of the origin", "https://my.esr.nhs.uk.evil.example", stdNonce},
			{"other port", "https://my.esr.nhs.uk:8443", stdNonce},
			{"other nonce", testOrigin, testNonce},
			{"nonce in URL-safe Base64", testOrigin, urlNonce},
		}
		for _, tt := range tests {
			t.Run(tk.name+"/"+tt.name, func(t *testing.T) {
				_, err := Verify(tok, tt.origin, tt.nonce, testNow)
				if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "verify signature") {
					t.Errorf("Verify = %v, want a signature failure", err)
				}
			})
		}
	}
}

// TestVerifyTampered checks that changing any field of a valid token makes Verify refuse
// it, except appVersion and the format spelt "web-eid:1" (a web-eid:1.1 token must carry
// signing certificates, see verify11_test.go).
func TestVerifyTampered(t *testing.T) {
	rsaTok, _ := createToken(t, testRSAKey())
	ecTok, _ := createToken(t, testP256Key())
	otherRSA, _ := createToken(t, testRSAKey2())
	otherEC, _ := createToken(t, testP256Key2())
	p384Tok, _ := createToken(t, testP384Key())

	flip := func(s string, i int) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[i%len(b)] ^= 0x01
		return base64.StdEncoding.EncodeToString(b)
	}
	reencode := func(s string, enc *base64.Encoding) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		return enc.EncodeToString(b)
	}
	// ecDER is the token's r||s signature in the card's DER, as a careless agent would send.
	ecDER := func(tok Token) string {
		b, _ := base64.StdEncoding.DecodeString(tok.Signature)
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:])})
		return base64.StdEncoding.EncodeToString(der)
	}

	tests := []struct {
		name   string
		tok    Token
		change func(*Token)
		ok     bool
	}{
		{"RSA untouched", *rsaTok, func(*Token) {}, true},
		{"EC untouched", *ecTok, func(*Token) {}, true},
		{"format web-eid:1", *rsaTok, func(k *Token) { k.Format = "web-eid:1" }, true},
		{"format web-eid:1.1 without signing certificates", *ecTok, func(k *Token) { k.Format = "web-eid:1.1" }, false},
		{"format web-eid:1.x", *ecTok, func(k *Token) { k.Format = "web-eid:1.x" }, false},
		{"no appVersion", *ecTok, func(k *Token) { k.AppVersion = "" }, true},

		{"RSA signature bit", *rsaTok, func(k *Token) { k.Signature = flip(k.Signature, 100) }, false},
		{"EC signature bit in r", *ecTok, func(k *Token) { k.Signature = flip(k.Signature, 5) }, false},
		{"EC signature bit in s", *ecTok, func(k *Token) { k.Signature = flip(k.Signature, 40) }, false},
		{"EC signature as DER", *ecTok, func(k *Token) { k.Signature = ecDER(*k) }, false},
		{"EC signature r and s swapped", *ecTok, func(k *Token) {
			b, _ := base64.StdEncoding.DecodeString(k.Signature)
			k.Signature = base64.StdEncoding.EncodeToString(append(b[32:], b[:32]...))
		}, false},
		{"EC signature one byte longer", *ecTok, func(k *Token) {
			b, _ := base64.StdEncoding.DecodeString(k.Signature)
			k.Signature = base64.StdEncoding.EncodeToString(append([]byte{0}, b...))
		}, false},
		{"signature URL-safe unpadded", *ecTok, func(k *Token) { k.Signature = reencode(k.Signature, base64.RawURLEncoding) }, false},
		{"signature empty", *rsaTok, func(k *Token) { k.Signature = "" }, false},
		{"signature of another key", *rsaTok, func(k *Token) { k.Signature = otherRSA.Signature }, false},

		{"certificate of another RSA key", *rsaTok, func(k *Token) { k.UnverifiedCertificate = otherRSA.UnverifiedCertificate }, false},
		{"certificate of another EC key", *ecTok, func(k *Token) { k.UnverifiedCertificate = otherEC.UnverifiedCertificate }, false},
		{"certificate byte changed", *rsaTok, func(k *Token) { k.UnverifiedCertificate = flip(k.UnverifiedCertificate, 300) }, false},
		{"certificate truncated", *ecTok, func(k *Token) { k.UnverifiedCertificate = k.UnverifiedCertificate[:100] }, false},
		{"certificate not Base64", *ecTok, func(k *Token) { k.UnverifiedCertificate = "%%%%" }, false},
		{"certificate empty", *ecTok, func(k *Token) { k.UnverifiedCertificate = "" }, false},
		{"certificate too long", *ecTok, func(k *Token) { k.UnverifiedCertificate = strings.Repeat("AAAA", maxCertChars/4+1) }, false},

		{"RSA as RS384", *rsaTok, func(k *Token) { k.Algorithm = "RS384" }, false},
		{"RSA as PS256", *rsaTok, func(k *Token) { k.Algorithm = "PS256" }, false},
		{"RSA as ES256", *rsaTok, func(k *Token) { k.Algorithm = "ES256" }, false},
		{"P-256 as ES384", *ecTok, func(k *Token) { k.Algorithm = "ES384" }, false},
		{"P-384 as ES256", *p384Tok, func(k *Token) { k.Algorithm = "ES256" }, false},
		{"P-256 as RS256", *ecTok, func(k *Token) { k.Algorithm = "RS256" }, false},
		{"algorithm lower case", *ecTok, func(k *Token) { k.Algorithm = "es256" }, false},
		{"algorithm none", *ecTok, func(k *Token) { k.Algorithm = "none" }, false},
		{"algorithm empty", *rsaTok, func(k *Token) { k.Algorithm = "" }, false},

		{"format empty", *rsaTok, func(k *Token) { k.Format = "" }, false},
		{"format web-eid:2.0", *rsaTok, func(k *Token) { k.Format = "web-eid:2.0" }, false},
		{"format web-eid:10", *rsaTok, func(k *Token) { k.Format = "web-eid:10" }, false},
		{"format web-eid:0.9", *rsaTok, func(k *Token) { k.Format = "web-eid:0.9" }, false},
		{"format upper case", *rsaTok, func(k *Token) { k.Format = "WEB-EID:1.0" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.tok
			tt.change(&tok)
			cert, err := Verify(&tok, testOrigin, testNonce, testNow)
			switch {
			case tt.ok && err != nil:
				t.Errorf("Verify: %v", err)
			case tt.ok && cert == nil:
				t.Error("Verify returned no certificate")
			case !tt.ok && err == nil:
				t.Error("Verify accepted the token")
			case !tt.ok && !errors.Is(err, ErrInvalidToken):
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			case !tt.ok && !strings.HasPrefix(err.Error(), "verify token: "):
				t.Errorf("error %q does not name the operation", err)
			}
		})
	}
	if _, err := Verify(nil, testOrigin, testNonce, testNow); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(nil) = %v", err)
	}
}

// TestVerifyOtherRSAAlgorithms checks tokens signed with RS384, RS512 and PS256..PS512, as
// other Web eID apps may send, verify; and that PSS needs a salt as long as the hash.
func TestVerifyOtherRSAAlgorithms(t *testing.T) {
	key := testRSAKey().(*rsa.PrivateKey)
	tok, _ := createToken(t, key)
	for _, tt := range []struct {
		alg  string
		salt int
		ok   bool
	}{
		{"RS384", 0, true}, {"RS512", 0, true},
		{"PS256", rsa.PSSSaltLengthEqualsHash, true},
		{"PS384", rsa.PSSSaltLengthEqualsHash, true},
		{"PS512", rsa.PSSSaltLengthEqualsHash, true},
		{"PS256", 0, false},
	} {
		t.Run(tt.alg, func(t *testing.T) {
			a := algorithms[tt.alg]
			d := digest(a.hash, SignedValue(a.hash, testOrigin, testNonce))
			var sig []byte
			var err error
			if a.scheme == schemePSS {
				sig, err = rsa.SignPSS(rand.Reader, key, a.hash, d, &rsa.PSSOptions{SaltLength: tt.salt})
			} else {
				sig, err = rsa.SignPKCS1v15(rand.Reader, key, a.hash, d)
			}
			if err != nil {
				t.Fatal(err)
			}
			k := *tok
			k.Algorithm, k.Signature = tt.alg, base64.StdEncoding.EncodeToString(sig)
			if _, err := Verify(&k, testOrigin, testNonce, testNow); (err == nil) != tt.ok {
				t.Errorf("Verify = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestVerifyValidity checks the certificate must be valid at now, bounds included.
func TestVerifyValidity(t *testing.T) {
	key := testP256Key()
	tok, _ := createToken(t, key)
	tests := []struct {
		name string
		now  time.Time
		ok   bool
		want string
	}{
		{"inside", testNow, true, ""},
		{"at NotBefore", testNotBefore, true, ""},
		{"at NotAfter", testNotAfter, true, ""},
		{"before NotBefore", testNotBefore.Add(-time.Second), false, "not valid until 2025-01-01T00:00:00Z"},
		{"after NotAfter", testNotAfter.Add(time.Second), false, "expired at 2026-01-01T00:00:00Z"},
		{"years later", testNotAfter.AddDate(3, 0, 0), false, "expired"},
		{"in another zone", testNow.In(time.FixedZone("X", 5*3600)), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tok, testOrigin, testNonce, tt.now)
			if tt.ok != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidToken))) {
				t.Errorf("Verify at %v = %v, want ok %v %q", tt.now, err, tt.ok, tt.want)
			}
		})
	}
	expired := newCert(t, key, testNotBefore.AddDate(-5, 0, 0), testNotBefore.AddDate(-4, 0, 0))
	future := newCert(t, key, testNotAfter, testNotAfter.AddDate(1, 0, 0))
	for name, cert := range map[string]*x509.Certificate{"expired": expired, "not yet valid": future} {
		t.Run(name, func(t *testing.T) {
			k, err := Create(context.Background(), &cardSigner{key: key}, cert, testOrigin, testNonce, testAppVersion)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if _, err := Verify(k, testOrigin, testNonce, testNow); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify = %v, want a validity failure", err)
			}
		})
	}
	if _, err := Verify(tok, testOrigin, testNonce, time.Time{}); err == nil {
		t.Error("Verify accepted a zero time")
	}
}

// TestVerifyBadArguments checks a bad origin or nonce from the site is an input error.
func TestVerifyBadArguments(t *testing.T) {
	tok, _ := createToken(t, testP256Key())
	for _, args := range [][2]string{{"", testNonce}, {"null", testNonce}, {testOrigin + "/", testNonce}, {testOrigin, ""}, {testOrigin, testNonce[:40]}} {
		_, err := Verify(tok, args[0], args[1], testNow)
		if !errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify(%q, %q) = %v, want an input error", args[0], args[1], err)
		}
	}
}
