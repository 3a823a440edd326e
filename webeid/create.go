package webeid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
)

// maxAppVersionLen bounds the appVersion URL Create puts in a token.
const maxAppVersionLen = 512

// Create signs the challenge nonce for origin with the card behind s and returns the token
// that answers POST /api/authenticate.
//
// cert is the certificate of the key s signs with; appVersion is the URL of this build's
// release (see AppVersionURL). Create checks origin and nonce (errors wrapping
// ErrInvalidInput), has the card sign the digest hash(SignedValue), that is
// hash(hash(origin) || hash(nonce)), with the algorithm algorithmFor picks, turns an
// ECDSA signature from the card's DER into r||s and checks the signature against the
// certificate's key before returning, so a card that signs wrongly gives an error rather
// than a token every site refuses. It does not check the certificate's validity period.
func Create(ctx context.Context, s Signer, cert *x509.Certificate, origin, nonce, appVersion string) (*Token, error) {
	if s == nil {
		return nil, errors.New("create token: no signer")
	}
	if cert == nil || len(cert.Raw) == 0 {
		return nil, errors.New("create token: no certificate")
	}
	if err := ValidateOrigin(origin); err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	if err := ValidateNonce(nonce); err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	if err := checkAppVersion(appVersion); err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	pub := cert.PublicKey
	if k, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(pub) {
		return nil, errors.New("create token: the signer's key is not the certificate's key")
	}
	alg, hash, err := algorithmFor(pub)
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	value := SignedValue(hash, origin, nonce)
	raw, err := s.Sign(ctx, hash, digest(hash, value))
	if err != nil {
		return nil, fmt.Errorf("create token: sign: %w", err)
	}
	var sig []byte
	switch k := pub.(type) {
	case *rsa.PublicKey:
		sig, err = fixRSALength(raw, k.Size())
	case *ecdsa.PublicKey:
		sig, err = ecdsaDERToP1363(raw, k)
	}
	if err != nil {
		return nil, fmt.Errorf("create token: card signature: %w", err)
	}
	if err := verifySignature(pub, algorithms[alg], value, sig); err != nil {
		return nil, fmt.Errorf("create token: card signature does not verify with the certificate's key: %w", err)
	}
	return &Token{
		UnverifiedCertificate: base64.StdEncoding.EncodeToString(cert.Raw),
		Algorithm:             alg,
		Signature:             base64.StdEncoding.EncodeToString(sig),
		Format:                Format,
		AppVersion:            appVersion,
	}, nil
}

// checkAppVersion accepts an absolute https URL of reasonable length.
func checkAppVersion(v string) error {
	if v == "" {
		return errors.New("check app version: empty")
	}
	if len(v) > maxAppVersionLen {
		return fmt.Errorf("check app version: %d bytes is longer than %d", len(v), maxAppVersionLen)
	}
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("check app version: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("check app version: %q is not an https URL", v)
	}
	return nil
}

// fixRSALength left-pads an RSA signature to the key's size, for cards that drop leading
// zero bytes, and refuses one longer than the key.
func fixRSALength(sig []byte, size int) ([]byte, error) {
	switch {
	case len(sig) == 0:
		return nil, errors.New("empty RSA signature")
	case len(sig) > size:
		return nil, fmt.Errorf("RSA signature of %d bytes is longer than the %d-byte key", len(sig), size)
	}
	out := make([]byte, size)
	copy(out[size-len(sig):], sig)
	return out, nil
}

// ecdsaDERToP1363 turns a DER ECDSA signature into r||s, each left-padded to the curve's
// coordinate size (32 bytes for P-256, 48 for P-384, 66 for P-521).
func ecdsaDERToP1363(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil {
		return nil, fmt.Errorf("parse DER ECDSA signature: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("parse DER ECDSA signature: %d bytes after the signature", len(rest))
	}
	n := pub.Curve.Params().N
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.Cmp(n) >= 0 || rs.S.Cmp(n) >= 0 {
		return nil, errors.New("parse DER ECDSA signature: r or s out of range")
	}
	size := coordSize(pub)
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// coordSize is the length in bytes of r and s for pub's curve.
func coordSize(pub *ecdsa.PublicKey) int {
	return (pub.Curve.Params().BitSize + 7) / 8
}
