package webeid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrCertificateMismatch is wrapped by the error about a sign request whose certificate is
// not the certificate of the card's signing key: the user must insert the card the site
// read the certificate from, or the site must read it again (POST /api/signing-certificate).
var ErrCertificateMismatch = errors.New("the certificate is not the signing certificate of the card in the reader")

// Names of the signature schemes as Web eID writes them.
const (
	cryptoRSA     = "RSA"
	cryptoECC     = "ECC"
	paddingPKCS1  = "PKCS1.5"
	paddingPSS    = "PSS"
	paddingNone   = "NONE"
	maxHashChars  = 128 // Base64 of a SHA-512 digest is 88 characters
	maxFuncLength = 16  // longer than any hash function name
)

// SignatureAlgorithm is a signature scheme as Web eID names it, in a signing certificate's
// supportedSignatureAlgorithms and in a signature's signatureAlgorithm.
type SignatureAlgorithm struct {
	CryptoAlgorithm string `json:"cryptoAlgorithm"` // "RSA" or "ECC"
	HashFunction    string `json:"hashFunction"`    // "SHA-256", "SHA-384", "SHA-512", ...
	PaddingScheme   string `json:"paddingScheme"`   // "PKCS1.5" or "PSS" for RSA, "NONE" for ECC
}

// SigningCertificate is the answer to POST /api/signing-certificate and an entry of a
// web-eid:1.1 token's unverifiedSigningCertificates: the certificate of the card's signing
// key and the signature algorithms the card signs with.
type SigningCertificate struct {
	Certificate                  string               `json:"certificate"` // standard Base64 of the DER
	SupportedSignatureAlgorithms []SignatureAlgorithm `json:"supportedSignatureAlgorithms"`
}

// SignRequest is the body of POST /api/sign, as Web eID's sign takes it.
type SignRequest struct {
	Certificate  string `json:"certificate"`  // the signing certificate, standard Base64 of the DER
	Hash         string `json:"hash"`         // standard Base64 of the digest to sign
	HashFunction string `json:"hashFunction"` // the hash function that made it, e.g. "SHA-256"
}

// Signature is the answer to POST /api/sign: the signature of the digest and how it was
// made. RSA signatures are RSASSA-PKCS1-v1_5 of the digest, as long as the key; ECDSA
// signatures are r||s, each as long as the curve's order (IEEE P1363), as Web eID's sign
// returns them.
type Signature struct {
	Signature          string             `json:"signature"` // standard Base64
	SignatureAlgorithm SignatureAlgorithm `json:"signatureAlgorithm"`
}

// hashFunctions are the hash functions a site may ask a signature with, by Web eID name.
var hashFunctions = []struct {
	name string
	hash crypto.Hash
}{
	{"SHA-256", crypto.SHA256},
	{"SHA-384", crypto.SHA384},
	{"SHA-512", crypto.SHA512},
}

// webEIDHashNames are every hash function name Web eID defines, including those cardbridge
// does not sign with.
var webEIDHashNames = []string{"SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512"}

// hashName is the Web eID name of hash, or "" for a hash the package does not sign with.
func hashName(hash crypto.Hash) string {
	for _, h := range hashFunctions {
		if h.hash == hash {
			return h.name
		}
	}
	return ""
}

// offeredHashNames lists the hash functions cardbridge signs with, for error messages.
func offeredHashNames() string {
	names := make([]string, len(hashFunctions))
	for i, h := range hashFunctions {
		names[i] = h.name
	}
	return strings.Join(names, ", ")
}

// parseHashFunction returns the hash Web eID's name stands for: SHA-256, SHA-384 or SHA-512,
// spelt exactly so. A failure wraps ErrInvalidInput and says which names are taken.
func parseHashFunction(name string) (crypto.Hash, error) {
	for _, h := range hashFunctions {
		if h.name == name {
			return h.hash, nil
		}
	}
	if slices.Contains(webEIDHashNames, name) {
		return 0, invalid("hashFunction %s is not one cardbridge signs with: use %s", name, offeredHashNames())
	}
	if len(name) > maxFuncLength {
		name = name[:maxFuncLength] + "..."
	}
	return 0, invalid("unknown hashFunction %q: use %s", name, offeredHashNames())
}

// SupportedSignatureAlgorithms are the signature algorithms a card key signs with: for RSA,
// PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512 (the agent pads the DigestInfo, the card
// applies the key); for ECDSA keys, SHA-256, SHA-384 or SHA-512 with no padding (a digest
// longer than the curve is cut to its size, as ECDSA does). Any other key is an error.
func SupportedSignatureAlgorithms(pub crypto.PublicKey) ([]SignatureAlgorithm, error) {
	var crypt, padding string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.N.Sign() <= 0 {
			return nil, errors.New("signature algorithms: empty RSA public key")
		}
		crypt, padding = cryptoRSA, paddingPKCS1
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, errors.New("signature algorithms: empty ECDSA public key")
		}
		crypt, padding = cryptoECC, paddingNone
	default:
		return nil, fmt.Errorf("signature algorithms: unsupported key type %T", pub)
	}
	out := make([]SignatureAlgorithm, len(hashFunctions))
	for i, h := range hashFunctions {
		out[i] = SignatureAlgorithm{CryptoAlgorithm: crypt, HashFunction: h.name, PaddingScheme: padding}
	}
	return out, nil
}

// NewSigningCertificate describes cert, the certificate of a card's signing key, as POST
// /api/signing-certificate answers it and a web-eid:1.1 token carries it.
func NewSigningCertificate(cert *x509.Certificate) (*SigningCertificate, error) {
	if cert == nil || len(cert.Raw) == 0 {
		return nil, errors.New("signing certificate: no certificate")
	}
	algs, err := SupportedSignatureAlgorithms(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return &SigningCertificate{Certificate: base64.StdEncoding.EncodeToString(cert.Raw), SupportedSignatureAlgorithms: algs}, nil
}

// HashToSign is a sign request checked by ParseSignRequest: the certificate the site wants
// the signature from, the digest and the hash that made it.
type HashToSign struct {
	Certificate *x509.Certificate
	Hash        crypto.Hash
	Digest      []byte
}

// ParseSignRequest checks a sign request before anything reaches the card: the
// certificate must be standard Base64 of a certificate whose key cardbridge signs with,
// hashFunction a name SupportedSignatureAlgorithms offers, and hash the standard Base64 of
// exactly as many bytes as that function makes. Each failure wraps ErrInvalidInput and
// says what is wrong; whether the certificate is the card's is for CheckCertificate.
func ParseSignRequest(req SignRequest) (*HashToSign, error) {
	if req.Certificate == "" {
		return nil, invalid("parse sign request: no certificate: send the certificate POST /api/signing-certificate answered")
	}
	if len(req.Certificate) > maxCertChars {
		return nil, invalid("parse sign request: certificate of %d characters is longer than %d", len(req.Certificate), maxCertChars)
	}
	der, err := base64.StdEncoding.DecodeString(req.Certificate)
	if err != nil {
		return nil, invalid("parse sign request: certificate is not standard Base64: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, invalid("parse sign request: certificate is not an X.509 certificate: %v", err)
	}
	if _, err := SupportedSignatureAlgorithms(cert.PublicKey); err != nil {
		return nil, invalid("parse sign request: certificate: %v", err)
	}
	hash, err := parseHashFunction(req.HashFunction)
	if err != nil {
		return nil, fmt.Errorf("parse sign request: %w", err)
	}
	if req.Hash == "" {
		return nil, invalid("parse sign request: no hash: send the %s digest to sign, in standard Base64", req.HashFunction)
	}
	if len(req.Hash) > maxHashChars {
		return nil, invalid("parse sign request: hash of %d characters is far longer than a %s digest", len(req.Hash), req.HashFunction)
	}
	digest, err := base64.StdEncoding.DecodeString(req.Hash)
	if err != nil {
		return nil, invalid("parse sign request: hash is not standard Base64: %v", err)
	}
	if len(digest) != hash.Size() {
		return nil, invalid("parse sign request: a %s hash is %d bytes, this one is %d: send the digest itself, not the document", req.HashFunction, hash.Size(), len(digest))
	}
	return &HashToSign{Certificate: cert, Hash: hash, Digest: digest}, nil
}

// CheckCertificate makes sure h asks for a signature by signing, the certificate of the
// card's signing key; another certificate gives an error wrapping ErrCertificateMismatch
// that names both holders.
func (h *HashToSign) CheckCertificate(signing *x509.Certificate) error {
	if signing == nil {
		return errors.New("check certificate: the card has no signing certificate")
	}
	if bytes.Equal(h.Certificate.Raw, signing.Raw) {
		return nil
	}
	return fmt.Errorf("the request's certificate (%s, serial %X) is not the card's signing certificate (%s, serial %X): insert the card the page read the certificate from, or have the page read it again: %w",
		h.Certificate.Subject, h.Certificate.SerialNumber, signing.Subject, signing.SerialNumber, ErrCertificateMismatch)
}

// Sign has the card behind s sign h's digest and returns the signature as POST /api/sign
// answers it. The signer's key must be h's certificate's (else an error wrapping
// ErrCertificateMismatch). Sign turns an ECDSA signature from the card's DER into r||s and
// checks the signature against the certificate's key before returning, so a card that
// signs wrongly gives an error rather than a signature the site refuses.
func Sign(ctx context.Context, s Signer, h *HashToSign) (*Signature, error) {
	if s == nil {
		return nil, errors.New("sign: no signer")
	}
	if h == nil || h.Certificate == nil {
		return nil, errors.New("sign: no request")
	}
	pub := h.Certificate.PublicKey
	if k, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(pub) {
		return nil, fmt.Errorf("sign: the card's signing key is not the request's certificate's key: %w", ErrCertificateMismatch)
	}
	name := hashName(h.Hash)
	if name == "" || len(h.Digest) != h.Hash.Size() {
		return nil, fmt.Errorf("sign: %v digest of %d bytes: %w", h.Hash, len(h.Digest), ErrInvalidInput)
	}
	raw, err := s.Sign(ctx, h.Hash, h.Digest)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	var sig []byte
	var alg SignatureAlgorithm
	switch k := pub.(type) {
	case *rsa.PublicKey:
		sig, err = fixRSALength(raw, k.Size())
		alg = SignatureAlgorithm{CryptoAlgorithm: cryptoRSA, HashFunction: name, PaddingScheme: paddingPKCS1}
	case *ecdsa.PublicKey:
		sig, err = ecdsaDERToP1363(raw, k)
		alg = SignatureAlgorithm{CryptoAlgorithm: cryptoECC, HashFunction: name, PaddingScheme: paddingNone}
	default:
		return nil, fmt.Errorf("sign: unsupported key type %T", pub)
	}
	if err != nil {
		return nil, fmt.Errorf("sign: card signature: %w", err)
	}
	if err := VerifyDigestSignature(h.Certificate, alg, h.Digest, sig); err != nil {
		return nil, fmt.Errorf("sign: card signature does not verify with the certificate's key: %w", err)
	}
	return &Signature{Signature: base64.StdEncoding.EncodeToString(sig), SignatureAlgorithm: alg}, nil
}

// VerifyDigestSignature checks, as a site does, that sig (as POST /api/sign answers it) is
// the signature of digest by cert's key with alg: RSA with PKCS1.5 or PSS (salt as long as
// the hash), or ECC with r||s. The digest must be as long as alg's hash function makes.
func VerifyDigestSignature(cert *x509.Certificate, alg SignatureAlgorithm, digest, sig []byte) error {
	hash, err := parseHashFunction(alg.HashFunction)
	if err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	if len(digest) != hash.Size() {
		return fmt.Errorf("verify signature: %s digest of %d bytes, want %d", alg.HashFunction, len(digest), hash.Size())
	}
	var a algorithm
	switch {
	case alg.CryptoAlgorithm == cryptoRSA && alg.PaddingScheme == paddingPKCS1:
		a = algorithm{hash: hash, scheme: schemePKCS1v15}
	case alg.CryptoAlgorithm == cryptoRSA && alg.PaddingScheme == paddingPSS:
		a = algorithm{hash: hash, scheme: schemePSS}
	case alg.CryptoAlgorithm == cryptoECC && alg.PaddingScheme == paddingNone:
		a = algorithm{hash: hash, scheme: schemeECDSA}
	default:
		return fmt.Errorf("verify signature: unsupported algorithm %s with padding %s", alg.CryptoAlgorithm, alg.PaddingScheme)
	}
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if a.scheme == schemeECDSA {
			return errors.New("verify signature: ECC signature from an RSA key")
		}
	case *ecdsa.PublicKey:
		if a.scheme != schemeECDSA {
			return errors.New("verify signature: RSA signature from an ECDSA key")
		}
	}
	return verifyDigest(cert.PublicKey, a, digest, sig)
}
