package webeid

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"testing"
)

// FuzzVerify feeds Verify arbitrary token fields, origins and nonces: it must never panic,
// and whatever it accepts must have passed the origin and nonce checks.
func FuzzVerify(f *testing.F) {
	for _, tk := range testKeys[:2] {
		tok, _ := createToken(f, tk.key())
		f.Add(tok.UnverifiedCertificate, tok.Algorithm, tok.Signature, tok.Format, tok.AppVersion, testOrigin, testNonce)
		f.Add(tok.UnverifiedCertificate, "ES384", tok.Signature, "web-eid:1.1", "", testOrigin, testNonce)
		f.Add(tok.UnverifiedCertificate, tok.Algorithm, tok.Signature[:20], tok.Format, "", "http://localhost:1", testNonce)
	}
	f.Add("", "", "", "", "", "", "")
	f.Add("MA==", "PS256", "AAAA", "web-eid:1", "x", "https://[::1]:1", "12345678123456781234567812345678912356789123")
	f.Fuzz(func(t *testing.T, cert, alg, sig, format, app, origin, nonce string) {
		tok := &Token{UnverifiedCertificate: cert, Algorithm: alg, Signature: sig, Format: format, AppVersion: app}
		c, err := Verify(tok, origin, nonce, testNow)
		if err != nil {
			return
		}
		if c == nil {
			t.Fatal("Verify succeeded without a certificate")
		}
		if ValidateOrigin(origin) != nil || ValidateNonce(nonce) != nil {
			t.Fatalf("Verify accepted origin %q nonce %q", origin, nonce)
		}
	})
}

// FuzzECDSADERToP1363 feeds the card's signature conversion arbitrary bytes: it must never
// panic, and what it accepts must be r||s of fixed length holding the same r and s.
func FuzzECDSADERToP1363(f *testing.F) {
	key := testP256Key().(*ecdsa.PrivateKey)
	d := make([]byte, 32)
	f.Add(must(ecdsa.SignASN1(rand.Reader, key, d)))
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		out, err := ecdsaDERToP1363(der, &key.PublicKey)
		if err != nil {
			return
		}
		if len(out) != 64 {
			t.Fatalf("r||s is %d bytes", len(out))
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			t.Fatal(err)
		}
		if new(big.Int).SetBytes(out[:32]).Cmp(rs.R) != 0 || new(big.Int).SetBytes(out[32:]).Cmp(rs.S) != 0 {
			t.Fatalf("r||s %x does not hold r %v s %v", out, rs.R, rs.S)
		}
	})
}

// FuzzValidate feeds the input checks arbitrary strings: they must never panic, and an
// accepted nonce has 44 to 128 characters.
func FuzzValidate(f *testing.F) {
	f.Add(testOrigin, testNonce)
	f.Add("http://localhost:8080", "12345678123456781234567812345678912356789123")
	f.Add("https://[::1]:443", "====")
	f.Fuzz(func(t *testing.T, origin, nonce string) {
		_ = ValidateOrigin(origin)
		if ValidateNonce(nonce) == nil && (len(nonce) < 44 || len(nonce) > 128) {
			t.Fatalf("accepted a nonce of %d characters", len(nonce))
		}
	})
}

// FuzzParseSignRequest feeds the sign request checks arbitrary fields: they must never
// panic, and what they accept is a certificate and a digest as long as its hash makes.
func FuzzParseSignRequest(f *testing.F) {
	cert := newCert(f, testP256Key(), testNotBefore, testNotAfter)
	b64 := base64.StdEncoding.EncodeToString(cert.Raw)
	f.Add(b64, base64.StdEncoding.EncodeToString(make([]byte, 32)), "SHA-256")
	f.Add(b64, base64.StdEncoding.EncodeToString(make([]byte, 48)), "SHA-256")
	f.Add("MA==", "AAAA", "SHA3-256")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, cert, hash, hashFunction string) {
		h, err := ParseSignRequest(SignRequest{Certificate: cert, Hash: hash, HashFunction: hashFunction})
		if err != nil {
			if h != nil || !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParseSignRequest = %v, %v", h, err)
			}
			return
		}
		if h.Certificate == nil || len(h.Digest) != h.Hash.Size() || hashName(h.Hash) != hashFunction {
			t.Fatalf("accepted %+v for %q", h, hashFunction)
		}
	})
}
