//go:build linux && cgo

package tests

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWebEIDTokenVerifiesWithOpenSSL signs a Web eID token with a virtual card through the
// real pcscd and has openssl check it as a site does: the signature, with the token's
// algorithm, over data.bin = sha256(origin) || sha256(nonce), for an RSA and a P-256 card.
func TestWebEIDTokenVerifiesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: this test checks tokens with openssl dgst -sha256 -verify")
	}
	needPCSCD(t)
	const origin = "https://my.esr.nhs.uk" // what signToken signs for
	for _, tt := range []struct {
		alg, uuid, want string
	}{
		{"rsa2048", "555000000180", "RS256"},
		{"p256", "555000000181", "ES256"},
	} {
		t.Run(tt.alg, func(t *testing.T) {
			core, sub := runCore(t)
			c, cert, _ := newCard(t, testCard{uuid: tt.uuid, alg: tt.alg})
			insert(t, c, 0)
			waitIdentified(t, sub)
			p := &pins{answers: []string{"123456"}}
			tok, err := signToken(core, p)
			if err != nil {
				t.Fatalf("sign token: %v", err)
			}
			if tok.Algorithm != tt.want {
				t.Fatalf("token algorithm %q, want %q", tok.Algorithm, tt.want)
			}
			sig, err := base64.StdEncoding.DecodeString(tok.Signature)
			if err != nil {
				t.Fatalf("decode signature: %v", err)
			}
			if _, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
				// The token carries r||s; openssl takes ASN.1 DER.
				n := len(sig) / 2
				sig, err = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
				if err != nil {
					t.Fatalf("marshal DER ECDSA signature: %v", err)
				}
			}
			pub, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if err != nil {
				t.Fatalf("marshal public key: %v", err)
			}
			o, n := sha256.Sum256([]byte(origin)), sha256.Sum256([]byte(testNonce))
			dir := t.TempDir()
			for name, b := range map[string][]byte{
				"pub.pem":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
				"sig.bin":  sig,
				"data.bin": append(o[:], n[:]...),
			} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(openssl, "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", "data.bin")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Equal(bytes.TrimSpace(out), []byte("Verified OK")) {
				t.Fatalf("openssl dgst -sha256 -verify pub.pem -signature sig.bin data.bin: %v\n%s", err, out)
			}
		})
	}
}
