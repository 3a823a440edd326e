package webeid

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// signedData is hash(origin) || hash(nonce) computed longhand, without SignedValue.
func signedData(h crypto.Hash, origin, nonce string) []byte {
	ho, hn := h.New(), h.New()
	ho.Write([]byte(origin))
	hn.Write([]byte(nonce))
	return append(ho.Sum(nil), hn.Sum(nil)...)
}

// rawToDER turns an r||s ECDSA signature back into the ASN.1 DER that openssl and
// ecdsa.VerifyASN1 take.
func rawToDER(t testing.TB, sig []byte) []byte {
	t.Helper()
	if len(sig)%2 != 0 {
		t.Fatalf("r||s signature of odd length %d", len(sig))
	}
	n := len(sig) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
	if err != nil {
		t.Fatalf("marshal DER ECDSA signature: %v", err)
	}
	return der
}

// TestCreateVerifiesAsSignedData checks Create's signature with the standard library alone,
// not with Verify: it must be the token algorithm's signature of the data
// hash(origin) || hash(nonce), which the algorithm hashes once, as
// "openssl dgst -sha256 -verify pub.pem -signature sig.bin data.bin" checks it. A
// signature of a digest hashed once more must not verify.
func TestCreateVerifiesAsSignedData(t *testing.T) {
	for _, tk := range testKeys {
		t.Run(tk.name, func(t *testing.T) {
			tok, cert := createToken(t, tk.key())
			sig, err := base64.StdEncoding.DecodeString(tok.Signature)
			if err != nil {
				t.Fatalf("decode signature: %v", err)
			}
			data := signedData(tk.hash, testOrigin, testNonce)
			h := tk.hash.New()
			h.Write(data)
			d := h.Sum(nil)
			h.Reset()
			h.Write(d)
			twice := h.Sum(nil)
			switch k := cert.PublicKey.(type) {
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(k, tk.hash, d, sig); err != nil {
					t.Errorf("VerifyPKCS1v15 over hash(data): %v", err)
				}
				if rsa.VerifyPKCS1v15(k, tk.hash, twice, sig) == nil {
					t.Error("the signature verifies over hash(hash(data))")
				}
			case *ecdsa.PublicKey:
				der := rawToDER(t, sig)
				if !ecdsa.VerifyASN1(k, d, der) {
					t.Error("VerifyASN1 over hash(data) fails")
				}
				if ecdsa.VerifyASN1(k, twice, der) {
					t.Error("the signature verifies over hash(hash(data))")
				}
			default:
				t.Fatalf("unexpected key type %T", k)
			}
		})
	}
}

// TestCreateVerifiesWithOpenSSL has the openssl command verify Create's signature over
// data.bin = hash(origin) || hash(nonce), the way a site can check a token by hand.
func TestCreateVerifiesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed; it is needed to check tokens with openssl dgst -verify")
	}
	for _, tk := range testKeys {
		t.Run(tk.name, func(t *testing.T) {
			tok, cert := createToken(t, tk.key())
			sig, err := base64.StdEncoding.DecodeString(tok.Signature)
			if err != nil {
				t.Fatalf("decode signature: %v", err)
			}
			if _, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
				sig = rawToDER(t, sig)
			}
			pub, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if err != nil {
				t.Fatalf("marshal public key: %v", err)
			}
			dir := t.TempDir()
			files := map[string][]byte{
				"pub.pem":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
				"sig.bin":  sig,
				"data.bin": signedData(tk.hash, testOrigin, testNonce),
			}
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			dgst := "-" + strings.ToLower(strings.ReplaceAll(tk.hash.String(), "-", ""))
			run := func(data string) (string, error) {
				cmd := exec.Command(openssl, "dgst", dgst, "-verify", "pub.pem", "-signature", "sig.bin", data)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				return string(bytes.TrimSpace(out)), err
			}
			if out, err := run("data.bin"); err != nil || out != "Verified OK" {
				t.Errorf("openssl dgst %s -verify over hash(origin) || hash(nonce): %q, %v", dgst, out, err)
			}
			// The digest the card signed, given as data, is hashed once more and must fail.
			h := tk.hash.New()
			h.Write(files["data.bin"])
			if err := os.WriteFile(filepath.Join(dir, "digest.bin"), h.Sum(nil), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := run("digest.bin"); err == nil || out == "Verified OK" {
				t.Errorf("openssl verifies over hash(hash(origin) || hash(nonce)): %q", out)
			}
		})
	}
}
