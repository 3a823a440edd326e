package webeid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Format is the token format Create makes.
const Format = "web-eid:1.0"

// FormatWithSigning is the format of a token that carries the signing certificate too
// (see WithSigningCertificate).
const FormatWithSigning = "web-eid:1.1"

// appReleaseURL is where AppVersionURL points: the release page of a version.
const appReleaseURL = "https://github.com/cardbridge/cardbridge/releases/tag/"

// ErrInvalidInput is wrapped by every error about an origin or nonce given to the package,
// so that an HTTP handler can answer BAD_REQUEST for it.
var ErrInvalidInput = errors.New("invalid input")

// ErrInvalidToken is wrapped by every error Verify returns because of the token itself.
var ErrInvalidToken = errors.New("invalid token")

// Token is a Web eID authentication token as it travels in JSON.
type Token struct {
	UnverifiedCertificate string `json:"unverifiedCertificate"`
	Algorithm             string `json:"algorithm"`
	Signature             string `json:"signature"`
	// UnverifiedSigningCertificates is the card's signing certificate and the signature
	// algorithms it signs with, in a web-eid:1.1 token only; absent from a web-eid:1.0 one.
	UnverifiedSigningCertificates []SigningCertificate `json:"unverifiedSigningCertificates,omitempty"`
	Format                        string               `json:"format"`
	AppVersion                    string               `json:"appVersion"`
}

// WithSigningCertificate makes t a web-eid:1.1 token that also carries signing, the
// certificate of the card's signing key, with the signature algorithms it signs with, so
// that a site can prepare a document to sign without asking again (POST
// /api/signing-certificate). The token's signature is unchanged: it covers the origin and
// the nonce only, and a site trusts the signing certificate as it trusts the
// authentication certificate.
func (t *Token) WithSigningCertificate(signing *x509.Certificate) error {
	sc, err := NewSigningCertificate(signing)
	if err != nil {
		return fmt.Errorf("add signing certificate: %w", err)
	}
	t.UnverifiedSigningCertificates = []SigningCertificate{*sc}
	t.Format = FormatWithSigning
	return nil
}

// Signer signs a digest with the card: for RSA keys it gets hash+digest and returns the
// PKCS#1 v1.5 signature; for EC keys it returns ASN.1 DER ECDSA (as the card gives).
type Signer interface {
	Public() crypto.PublicKey
	Sign(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error)
}

// AppVersionURL is the appVersion value for a cardbridge release such as "1.2.3".
func AppVersionURL(version string) string {
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	return appReleaseURL + version
}

// scheme is how an algorithm turns a digest into a signature.
type scheme int

const (
	schemePKCS1v15 scheme = iota
	schemePSS
	schemeECDSA
)

// algorithm describes one JWS algorithm name a token may carry.
type algorithm struct {
	hash   crypto.Hash
	scheme scheme
	curve  elliptic.Curve // for schemeECDSA: the only curve the name allows
}

// algorithms are the token algorithms Verify accepts; Create produces RS256, ES256, ES384
// and ES512.
var algorithms = map[string]algorithm{
	"RS256": {crypto.SHA256, schemePKCS1v15, nil},
	"RS384": {crypto.SHA384, schemePKCS1v15, nil},
	"RS512": {crypto.SHA512, schemePKCS1v15, nil},
	"PS256": {crypto.SHA256, schemePSS, nil},
	"PS384": {crypto.SHA384, schemePSS, nil},
	"PS512": {crypto.SHA512, schemePSS, nil},
	"ES256": {crypto.SHA256, schemeECDSA, elliptic.P256()},
	"ES384": {crypto.SHA384, schemeECDSA, elliptic.P384()},
	"ES512": {crypto.SHA512, schemeECDSA, elliptic.P521()},
}

// algorithmFor names the algorithm and hash Create uses for a card key: RS256 and SHA-256
// for RSA, ES256/SHA-256 for P-256, ES384/SHA-384 for P-384 and ES512/SHA-512 for P-521.
func algorithmFor(pub crypto.PublicKey) (alg string, hash crypto.Hash, err error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.N.Sign() <= 0 {
			return "", 0, errors.New("choose algorithm: empty RSA public key")
		}
		return "RS256", crypto.SHA256, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", 0, errors.New("choose algorithm: empty ECDSA public key")
		}
		switch k.Curve {
		case elliptic.P256():
			return "ES256", crypto.SHA256, nil
		case elliptic.P384():
			return "ES384", crypto.SHA384, nil
		case elliptic.P521():
			return "ES512", crypto.SHA512, nil
		}
		return "", 0, fmt.Errorf("choose algorithm: unsupported ECDSA curve %s", k.Curve.Params().Name)
	default:
		return "", 0, fmt.Errorf("choose algorithm: unsupported key type %T", pub)
	}
}

// SignedValue is hash(origin) || hash(nonce), the data a token's signature is made over
// with the token's algorithm, which hashes it once more (so the card signs
// hash(hash(origin) || hash(nonce))). hash is SHA-256, SHA-384 or SHA-512; any other hash
// gives nil.
func SignedValue(hash crypto.Hash, origin, nonce string) []byte {
	sum := digester(hash)
	if sum == nil {
		return nil
	}
	return append(sum([]byte(origin)), sum([]byte(nonce))...)
}

// digest is hash(b) for SHA-256, SHA-384 or SHA-512, or nil for any other hash.
func digest(hash crypto.Hash, b []byte) []byte {
	sum := digester(hash)
	if sum == nil {
		return nil
	}
	return sum(b)
}

// digester returns a one-shot function for hash, or nil if the package does not use hash.
func digester(hash crypto.Hash) func([]byte) []byte {
	switch hash {
	case crypto.SHA256:
		return func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	case crypto.SHA384:
		return func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }
	case crypto.SHA512:
		return func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
	}
	return nil
}
