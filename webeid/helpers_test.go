package webeid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"
)

// Fixed times the test certificates are built around.
var (
	testNow       = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	testNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	testNotAfter  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	testOrigin     = "https://my.esr.nhs.uk"
	testNonce      = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // Base64 of 32 bytes
	testAppVersion = "https://github.com/cardbridge/cardbridge/releases/tag/v1.2.3"
)

// Test keys, generated once per run.
var (
	testRSAKey   = sync.OnceValue(func() crypto.Signer { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	testRSAKey2  = sync.OnceValue(func() crypto.Signer { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	testP256Key  = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	testP256Key2 = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	testP384Key  = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)) })
	testP521Key  = sync.OnceValue(func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)) })
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// testKey is one key type the package supports, with the algorithm Create picks for it.
type testKey struct {
	name    string
	key     func() crypto.Signer
	alg     string
	hash    crypto.Hash
	sigSize int
}

var testKeys = []testKey{
	{"RSA-2048", testRSAKey, "RS256", crypto.SHA256, 256},
	{"P-256", testP256Key, "ES256", crypto.SHA256, 64},
	{"P-384", testP384Key, "ES384", crypto.SHA384, 96},
	{"P-521", testP521Key, "ES512", crypto.SHA512, 132},
}

// newCert makes a self-signed authentication certificate for key valid from notBefore to
// notAfter.
func newCert(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "TEST USER 555555555555", Organization: []string{"cardbridge tests"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return cert
}

// cardSigner behaves like the card: PKCS#1 v1.5 over hash+digest for RSA, a DER ECDSA
// signature of digest for EC. It records what it was asked to sign.
type cardSigner struct {
	key        crypto.Signer
	err        error                 // returned instead of signing when set
	transform  func([]byte) []byte   // applied to the signature when set
	accept     func(der []byte) bool // for EC: sign again until it returns true
	calls      int
	lastHash   crypto.Hash
	lastDigest []byte
}

func (c *cardSigner) Public() crypto.PublicKey { return c.key.Public() }

func (c *cardSigner) Sign(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	c.calls++
	c.lastHash, c.lastDigest = hash, append([]byte(nil), digest...)
	if c.err != nil {
		return nil, c.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var sig []byte
	var err error
	switch k := c.key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, hash, digest)
	case *ecdsa.PrivateKey:
		for {
			sig, err = ecdsa.SignASN1(rand.Reader, k, digest)
			if err != nil || c.accept == nil || c.accept(sig) {
				break
			}
		}
	default:
		return nil, errors.New("test signer: unsupported key")
	}
	if err != nil {
		return nil, err
	}
	if c.transform != nil {
		sig = c.transform(sig)
	}
	return sig, nil
}

// createToken makes a valid token for testOrigin and testNonce with key and a certificate
// valid at testNow.
func createToken(t testing.TB, key crypto.Signer) (*Token, *x509.Certificate) {
	t.Helper()
	cert := newCert(t, key, testNotBefore, testNotAfter)
	tok, err := Create(context.Background(), &cardSigner{key: key}, cert, testOrigin, testNonce, testAppVersion)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tok, cert
}
