package webeid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Bounds on the Base64 fields Verify decodes, far above any real certificate or signature.
const (
	maxCertChars = 64 << 10
	maxSigChars  = 4 << 10
)

// Verify checks tok as a Web eID server-side validator does and returns its certificate.
//
// It requires a "web-eid:1" or "web-eid:1.N" format, a supported algorithm that matches
// the certificate's key (RS256/384/512 or PS256/384/512 for RSA; ES256, ES384 or ES512 for
// P-256, P-384 or P-521), a signature made with that algorithm over the data SignedValue,
// hash(origin) || hash(nonce), for this origin and nonce, as Web eID's validators check it,
// and a certificate valid at now. It does NOT check who issued the certificate, its key
// usage or its revocation: trusting the certificate is the site's policy and needs the
// site's roots. appVersion is not checked. A web-eid:1.0 token must not carry
// unverifiedSigningCertificates; from web-eid:1.1 on it must, and each signing certificate
// must name the same subject and issuing authority (authority key identifier) as the
// authentication certificate, have the non-repudiation key usage, be valid at now and list
// signature algorithms Web eID defines, as Web eID's validators check them (again without
// the issuer's trust). Errors about the token wrap ErrInvalidToken; a bad origin or nonce
// argument wraps ErrInvalidInput.
func Verify(tok *Token, origin, nonce string, now time.Time) (*x509.Certificate, error) {
	if err := ValidateOrigin(origin); err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	if err := ValidateNonce(nonce); err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	if now.IsZero() {
		return nil, errors.New("verify token: zero time")
	}
	if tok == nil {
		return nil, badToken("no token")
	}
	minor, ok := formatMinor(tok.Format)
	if !ok {
		return nil, badToken("format %q is not web-eid:1", tok.Format)
	}
	alg, ok := algorithms[tok.Algorithm]
	if !ok {
		return nil, badToken("unsupported algorithm %q", tok.Algorithm)
	}
	der, err := decodeField("unverifiedCertificate", tok.UnverifiedCertificate, maxCertChars)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, badToken("parse certificate: %v", err)
	}
	if err := checkKeyMatches(cert.PublicKey, tok.Algorithm, alg); err != nil {
		return nil, err
	}
	sig, err := decodeField("signature", tok.Signature, maxSigChars)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(cert.PublicKey, alg, SignedValue(alg.hash, origin, nonce), sig); err != nil {
		return nil, badToken("%v", err)
	}
	if now.Before(cert.NotBefore) {
		return nil, badToken("certificate not valid until %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return nil, badToken("certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := verifySigningCertificates(tok, minor, cert, now); err != nil {
		return nil, err
	}
	return cert, nil
}

// decodeField decodes a standard Base64 token field of at most limit characters.
func decodeField(name, s string, limit int) ([]byte, error) {
	switch {
	case s == "":
		return nil, badToken("empty %s", name)
	case len(s) > limit:
		return nil, badToken("%s of %d characters is longer than %d", name, len(s), limit)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, badToken("decode %s: %v", name, err)
	}
	return b, nil
}

// checkKeyMatches refuses an algorithm that cannot be used with the certificate's key.
func checkKeyMatches(pub crypto.PublicKey, name string, alg algorithm) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg.scheme == schemeECDSA {
			return badToken("algorithm %s needs an ECDSA key, the certificate has RSA", name)
		}
	case *ecdsa.PublicKey:
		if alg.scheme != schemeECDSA {
			return badToken("algorithm %s needs an RSA key, the certificate has ECDSA", name)
		}
		if k.Curve != alg.curve {
			return badToken("algorithm %s needs curve %s, the certificate has %s", name, alg.curve.Params().Name, k.Curve.Params().Name)
		}
	default:
		return badToken("unsupported certificate key type %T", pub)
	}
	return nil
}

// verifySignature checks that sig is alg's signature by pub of the data value, which alg
// hashes first; pub's type must suit alg.
func verifySignature(pub crypto.PublicKey, alg algorithm, value, sig []byte) error {
	return verifyDigest(pub, alg, digest(alg.hash, value), sig)
}

// verifyDigest checks that sig is alg's signature by pub of the digest d (for ECDSA: r||s);
// pub's type must suit alg.
func verifyDigest(pub crypto.PublicKey, alg algorithm, d, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		var err error
		if alg.scheme == schemePSS {
			err = rsa.VerifyPSS(k, alg.hash, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.hash})
		} else {
			err = rsa.VerifyPKCS1v15(k, alg.hash, d, sig)
		}
		if err != nil {
			return fmt.Errorf("verify signature: %w", err)
		}
	case *ecdsa.PublicKey:
		size := coordSize(k)
		if len(sig) != 2*size {
			return fmt.Errorf("verify signature: ECDSA signature is %d bytes, want %d (r||s)", len(sig), 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, d, r, s) {
			return errors.New("verify signature: ECDSA signature does not verify")
		}
	default:
		return fmt.Errorf("verify signature: unsupported key type %T", pub)
	}
	return nil
}

// badToken formats a message naming what was wrong with a token and wraps ErrInvalidToken.
func badToken(format string, args ...any) error {
	return fmt.Errorf("verify token: %s: %w", fmt.Sprintf(format, args...), ErrInvalidToken)
}
