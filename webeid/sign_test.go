package webeid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testCA issues the test cards' certificates, so that a card's authentication and signing
// certificates name the same issuing authority, as Web eID's validators require.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key := testP256Key2()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cardbridge test CA"},
		NotBefore:             testNotBefore.AddDate(-1, 0, 0),
		NotAfter:              testNotAfter.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create CA: %v", err)
	}
	return &testCA{cert: must(x509.ParseCertificate(der)), key: key}
}

// issue makes a card holder's certificate for key with the given key usage.
func (ca *testCA) issue(t testing.TB, key crypto.Signer, subject pkix.Name, usage x509.KeyUsage, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      subject,
		NotBefore:    testNotBefore,
		NotAfter:     notAfter,
		KeyUsage:     usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	return must(x509.ParseCertificate(der))
}

// holder is the subject of the test cards' certificates.
var holder = pkix.Name{CommonName: "555123456789", OrganizationalUnit: []string{"People"}, Organization: []string{"nhs"}}

// cardCerts issues a card's authentication certificate for authKey and signing
// certificate (non-repudiation) for signKey.
func cardCerts(t testing.TB, ca *testCA, authKey, signKey crypto.Signer) (auth, sign *x509.Certificate) {
	t.Helper()
	auth = ca.issue(t, authKey, holder, x509.KeyUsageDigitalSignature, testNotAfter)
	sign = ca.issue(t, signKey, holder, x509.KeyUsageContentCommitment, testNotAfter)
	return auth, sign
}

// signRequest is the sign request for data hashed with hash, from cert.
func signRequest(cert *x509.Certificate, name string, digest []byte) SignRequest {
	return SignRequest{
		Certificate:  base64.StdEncoding.EncodeToString(cert.Raw),
		Hash:         base64.StdEncoding.EncodeToString(digest),
		HashFunction: name,
	}
}

func TestSupportedSignatureAlgorithms(t *testing.T) {
	rsaAlgs, err := SupportedSignatureAlgorithms(testRSAKey().Public())
	if err != nil {
		t.Fatal(err)
	}
	ecAlgs, err := SupportedSignatureAlgorithms(testP256Key().Public())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rsaAlgs)
	if want := `[{"cryptoAlgorithm":"RSA","hashFunction":"SHA-256","paddingScheme":"PKCS1.5"},{"cryptoAlgorithm":"RSA","hashFunction":"SHA-384","paddingScheme":"PKCS1.5"},{"cryptoAlgorithm":"RSA","hashFunction":"SHA-512","paddingScheme":"PKCS1.5"}]`; string(b) != want {
		t.Errorf("RSA: %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(ecAlgs)
	if want := `[{"cryptoAlgorithm":"ECC","hashFunction":"SHA-256","paddingScheme":"NONE"},{"cryptoAlgorithm":"ECC","hashFunction":"SHA-384","paddingScheme":"NONE"},{"cryptoAlgorithm":"ECC","hashFunction":"SHA-512","paddingScheme":"NONE"}]`; string(b) != want {
		t.Errorf("EC: %s\nwant %s", b, want)
	}
	// Every name is one Web eID's validators accept.
	for _, a := range append(rsaAlgs, ecAlgs...) {
		if !slices.Contains(tokenCryptoAlgorithms, a.CryptoAlgorithm) || !slices.Contains(webEIDHashNames, a.HashFunction) || !slices.Contains(tokenPaddingSchemes, a.PaddingScheme) {
			t.Errorf("%+v is not a Web eID signature algorithm", a)
		}
	}
	if _, err := SupportedSignatureAlgorithms(nil); err == nil {
		t.Error("no key: no error")
	}
}

// TestParseSignRequest: a request is checked in full before the card is asked anything,
// and every bad field is a BAD_REQUEST (ErrInvalidInput) that says what is wrong.
func TestParseSignRequest(t *testing.T) {
	ca := newTestCA(t)
	_, sign := cardCerts(t, ca, testP256Key(), testRSAKey())
	d256 := sha256.Sum256([]byte("document"))
	d384 := sha512.Sum384([]byte("document"))
	good := signRequest(sign, "SHA-256", d256[:])
	tests := []struct {
		name   string
		change func(*SignRequest)
		want   string // in the error; "" for none
	}{
		{"good", func(*SignRequest) {}, ""},
		{"SHA-384", func(r *SignRequest) { r.HashFunction, r.Hash = "SHA-384", base64.StdEncoding.EncodeToString(d384[:]) }, ""},
		{"no certificate", func(r *SignRequest) { r.Certificate = "" }, "no certificate"},
		{"certificate not Base64", func(r *SignRequest) { r.Certificate = "%%%%" }, "certificate is not standard Base64"},
		{"certificate URL-safe Base64", func(r *SignRequest) {
			r.Certificate = base64.RawURLEncoding.EncodeToString(sign.Raw)
		}, "certificate is not standard Base64"},
		{"certificate not a certificate", func(r *SignRequest) { r.Certificate = base64.StdEncoding.EncodeToString([]byte("not a certificate")) }, "certificate is not an X.509 certificate"},
		{"certificate too long", func(r *SignRequest) { r.Certificate = strings.Repeat("AAAA", maxCertChars/4+1) }, "longer than"},
		{"unknown hashFunction", func(r *SignRequest) { r.HashFunction = "MD5" }, `unknown hashFunction "MD5": use SHA-256, SHA-384, SHA-512`},
		{"hashFunction lower case", func(r *SignRequest) { r.HashFunction = "sha-256" }, `unknown hashFunction "sha-256"`},
		{"hashFunction as JWS", func(r *SignRequest) { r.HashFunction = "SHA256" }, `unknown hashFunction "SHA256"`},
		{"no hashFunction", func(r *SignRequest) { r.HashFunction = "" }, `unknown hashFunction ""`},
		{"SHA3-256 not offered", func(r *SignRequest) { r.HashFunction = "SHA3-256" }, "hashFunction SHA3-256 is not one cardbridge signs with: use SHA-256, SHA-384, SHA-512"},
		{"SHA-224 not offered", func(r *SignRequest) { r.HashFunction = "SHA-224" }, "hashFunction SHA-224 is not one cardbridge signs with"},
		{"no hash", func(r *SignRequest) { r.Hash = "" }, "no hash"},
		{"hash not Base64", func(r *SignRequest) { r.Hash = "not base64!" }, "hash is not standard Base64"},
		{"hash unpadded", func(r *SignRequest) { r.Hash = strings.TrimRight(r.Hash, "=") }, "hash is not standard Base64"},
		{"SHA-384 hash called SHA-256", func(r *SignRequest) { r.Hash = base64.StdEncoding.EncodeToString(d384[:]) }, "a SHA-256 hash is 32 bytes, this one is 48"},
		{"SHA-256 hash called SHA-512", func(r *SignRequest) { r.HashFunction = "SHA-512" }, "a SHA-512 hash is 64 bytes, this one is 32"},
		{"the document, not its hash", func(r *SignRequest) { r.Hash = base64.StdEncoding.EncodeToString([]byte("document")) }, "send the digest itself"},
		{"huge hash", func(r *SignRequest) { r.Hash = strings.Repeat("AAAA", 1000) }, "far longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.change(&req)
			h, err := ParseSignRequest(req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParseSignRequest: %v", err)
				}
				if !h.Certificate.Equal(sign) || base64.StdEncoding.EncodeToString(h.Digest) != req.Hash || hashName(h.Hash) != req.HashFunction {
					t.Errorf("parsed %+v", h)
				}
				return
			}
			if h != nil || !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSignRequest = %v, %v; want an invalid input error saying %q", h, err, tt.want)
			}
		})
	}
}

// TestCheckCertificate: only the card's own signing certificate passes; another one,
// even of the same holder, is ErrCertificateMismatch, naming both.
func TestCheckCertificate(t *testing.T) {
	ca := newTestCA(t)
	auth, sign := cardCerts(t, ca, testP256Key(), testRSAKey())
	d := sha256.Sum256([]byte("document"))
	h, err := ParseSignRequest(signRequest(sign, "SHA-256", d[:]))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckCertificate(sign); err != nil {
		t.Errorf("the card's own certificate: %v", err)
	}
	for name, other := range map[string]*x509.Certificate{
		"the authentication certificate":          auth,
		"another card of the same holder":         ca.issue(t, testRSAKey2(), holder, x509.KeyUsageContentCommitment, testNotAfter),
		"the same key in another certificate":     ca.issue(t, testRSAKey(), holder, x509.KeyUsageContentCommitment, testNotAfter.AddDate(0, 1, 0)),
		"another holder's signing certificate":    ca.issue(t, testRSAKey2(), pkix.Name{CommonName: "555000000002"}, x509.KeyUsageContentCommitment, testNotAfter),
		"a certificate of another issuing system": newCert(t, testRSAKey2(), testNotBefore, testNotAfter),
	} {
		err := h.CheckCertificate(other)
		if !errors.Is(err, ErrCertificateMismatch) || errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "insert the card") {
			t.Errorf("%s: %v, want ErrCertificateMismatch", name, err)
		}
	}
	if err := h.CheckCertificate(nil); err == nil {
		t.Error("no signing certificate: no error")
	}
}

// TestSign signs digests of each hash with each key type like the card does and checks
// the signature with the standard library directly (PKCS#1 v1.5 of the digest; ECDSA r||s
// of the digest), not only with VerifyDigestSignature.
func TestSign(t *testing.T) {
	ca := newTestCA(t)
	for _, tk := range testKeys {
		for _, hf := range hashFunctions {
			t.Run(tk.name+"/"+hf.name, func(t *testing.T) {
				key := tk.key()
				_, sign := cardCerts(t, ca, testP256Key(), key)
				h := hf.hash.New()
				h.Write([]byte("a prescription"))
				digest := h.Sum(nil)
				req, err := ParseSignRequest(signRequest(sign, hf.name, digest))
				if err != nil {
					t.Fatal(err)
				}
				card := &cardSigner{key: key}
				s, err := Sign(context.Background(), card, req)
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				if card.calls != 1 || card.lastHash != hf.hash || !bytes.Equal(card.lastDigest, digest) {
					t.Errorf("the card signed %v %x, want the request's digest", card.lastHash, card.lastDigest)
				}
				sig, err := base64.StdEncoding.DecodeString(s.Signature)
				if err != nil {
					t.Fatal(err)
				}
				switch k := key.Public().(type) {
				case *rsa.PublicKey:
					if s.SignatureAlgorithm != (SignatureAlgorithm{"RSA", hf.name, "PKCS1.5"}) || len(sig) != 256 {
						t.Errorf("algorithm %+v, %d bytes", s.SignatureAlgorithm, len(sig))
					}
					if err := rsa.VerifyPKCS1v15(k, hf.hash, digest, sig); err != nil {
						t.Errorf("VerifyPKCS1v15: %v", err)
					}
				case *ecdsa.PublicKey:
					if s.SignatureAlgorithm != (SignatureAlgorithm{"ECC", hf.name, "NONE"}) || len(sig) != tk.sigSize {
						t.Errorf("algorithm %+v, %d bytes, want r||s of %d", s.SignatureAlgorithm, len(sig), tk.sigSize)
					}
					n := len(sig) / 2
					if !ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
						t.Error("ecdsa.Verify over r||s fails")
					}
				}
				if err := VerifyDigestSignature(sign, s.SignatureAlgorithm, digest, sig); err != nil {
					t.Errorf("VerifyDigestSignature: %v", err)
				}
				other := slices.Clone(digest)
				other[0] ^= 1
				if VerifyDigestSignature(sign, s.SignatureAlgorithm, other, sig) == nil {
					t.Error("the signature verifies for another digest")
				}
			})
		}
	}
}

func TestSignErrors(t *testing.T) {
	ca := newTestCA(t)
	_, sign := cardCerts(t, ca, testP256Key(), testRSAKey())
	d := sha256.Sum256([]byte("document"))
	req, err := ParseSignRequest(signRequest(sign, "SHA-256", d[:]))
	if err != nil {
		t.Fatal(err)
	}
	cardErr := errors.New("card gone")
	tests := []struct {
		name   string
		signer Signer
		req    *HashToSign
		is     error
		want   string
	}{
		{"another card", &cardSigner{key: testRSAKey2()}, req, ErrCertificateMismatch, "not the request's certificate's key"},
		{"card fails", &cardSigner{key: testRSAKey(), err: cardErr}, req, cardErr, "sign: card gone"},
		{"card signs wrongly", &cardSigner{key: testRSAKey(), transform: func(b []byte) []byte { b[10] ^= 1; return b }}, req, nil, "does not verify"},
		{"card answers too long", &cardSigner{key: testRSAKey(), transform: func(b []byte) []byte { return append(b, 0) }}, req, nil, "longer than the 256-byte key"},
		{"no signer", nil, req, nil, "no signer"},
		{"no request", &cardSigner{key: testRSAKey()}, nil, nil, "no request"},
		{"digest of the wrong length", &cardSigner{key: testRSAKey()}, &HashToSign{Certificate: sign, Hash: crypto.SHA384, Digest: d[:]}, ErrInvalidInput, "digest of 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Signer
			if tt.signer != nil {
				s = tt.signer
			}
			got, err := Sign(context.Background(), s, tt.req)
			if got != nil || err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Sign = %v, %v; want an error saying %q", got, err, tt.want)
			}
		})
	}
}

// TestSignVerifiesWithOpenSSL has openssl check Sign's signatures as a site's signing
// service does with the signing certificate's key over the digest it sent: openssl
// pkeyutl -verify with the PKCS#1 v1.5 DigestInfo of the hash for RSA, and with the
// DER form of r||s for ECDSA. A signature over another digest must fail.
func TestSignVerifiesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed; it is needed to check signatures with openssl pkeyutl -verify")
	}
	ca := newTestCA(t)
	for _, tk := range testKeys[:3] {
		for _, hf := range hashFunctions {
			t.Run(tk.name+"/"+hf.name, func(t *testing.T) {
				key := tk.key()
				_, sign := cardCerts(t, ca, testP256Key(), key)
				h := hf.hash.New()
				h.Write([]byte("a prescription"))
				digest := h.Sum(nil)
				req, err := ParseSignRequest(signRequest(sign, hf.name, digest))
				if err != nil {
					t.Fatal(err)
				}
				s, err := Sign(context.Background(), &cardSigner{key: key}, req)
				if err != nil {
					t.Fatal(err)
				}
				sig, _ := base64.StdEncoding.DecodeString(s.Signature)
				if _, ok := key.Public().(*ecdsa.PublicKey); ok {
					sig = rawToDER(t, sig)
				}
				out, err := opensslVerifyDigest(t, openssl, sign, hf.name, digest, sig)
				if err != nil || out != "Signature Verified Successfully" {
					t.Errorf("openssl pkeyutl -verify: %q, %v", out, err)
				}
				// The first byte: ECDSA uses only as much of a digest as its curve is long.
				other := slices.Clone(digest)
				other[0] ^= 1
				if out, err := opensslVerifyDigest(t, openssl, sign, hf.name, other, sig); err == nil || out == "Signature Verified Successfully" {
					t.Errorf("openssl verifies the signature over another digest: %q", out)
				}
			})
		}
	}
}

// opensslVerifyDigest runs openssl pkeyutl -verify with cert's public key over digest,
// made with the Web eID hash function hashName, and returns what it printed.
func opensslVerifyDigest(t *testing.T, openssl string, cert *x509.Certificate, hashName string, digest, sig []byte) (string, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"cert.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		"digest.bin": digest,
		"sig.bin":    sig,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	md := strings.ToLower(strings.ReplaceAll(hashName, "-", "")) // SHA-256 -> sha256
	cmd := exec.Command(openssl, "pkeyutl", "-verify", "-certin", "-inkey", "cert.pem", "-in", "digest.bin", "-sigfile", "sig.bin", "-pkeyopt", "digest:"+md)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(bytes.TrimSpace(out)), err
}
