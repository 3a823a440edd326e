package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// NHSSubject returns an NHS-like certificate subject for the given card
// holder UUID: CN=uuid, OU=People, O=nhs.
func NHSSubject(uuid string) pkix.Name {
	return pkix.Name{CommonName: uuid, OrganizationalUnit: []string{"People"}, Organization: []string{"nhs"}}
}

// NewIdentity makes a key pair and a self-signed PIV authentication
// certificate for a test card. alg is "rsa2048" or "p256". The certificate is
// valid from an hour ago until notAfter (a year from now when notAfter is
// zero); a notAfter in the past gives an already expired certificate that
// started a year before notAfter. Like an NHS card's one certificate, it
// serves for signing too: its key usage has non-repudiation besides digital
// signature, and it names its own key as its authority key, which Web eID's
// validators compare with a signing certificate's.
func NewIdentity(alg string, subject pkix.Name, notAfter time.Time) (certDER []byte, key crypto.Signer, err error) {
	key, err = newKey(alg)
	if err != nil {
		return nil, nil, fmt.Errorf("new identity: %w", err)
	}
	usage := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	if alg == "rsa2048" {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl, err := certTemplate(subject, notAfter, usage)
	if err != nil {
		return nil, nil, fmt.Errorf("new identity: %w", err)
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if tmpl.SubjectKeyId, err = keyID(key.Public()); err != nil {
		return nil, nil, fmt.Errorf("new identity: %w", err)
	}
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("new identity: create certificate: %w", err)
	}
	return certDER, key, nil
}

// NewSigningIdentity makes a key pair and a digital signature certificate
// (slot 9C) for the holder of the authentication certificate auth made by
// NewIdentity with authKey: the same subject, issued under auth's key (so
// both name the same authority key), key usage non-repudiation only, valid
// as long as auth. alg is "rsa2048" or "p256".
func NewSigningIdentity(alg string, auth []byte, authKey crypto.Signer) (certDER []byte, key crypto.Signer, err error) {
	parent, err := x509.ParseCertificate(auth)
	if err != nil {
		return nil, nil, fmt.Errorf("new signing identity: parse authentication certificate: %w", err)
	}
	if key, err = newKey(alg); err != nil {
		return nil, nil, fmt.Errorf("new signing identity: %w", err)
	}
	tmpl, err := certTemplate(parent.Subject, parent.NotAfter, x509.KeyUsageContentCommitment)
	if err != nil {
		return nil, nil, fmt.Errorf("new signing identity: %w", err)
	}
	tmpl.NotBefore = parent.NotBefore
	if tmpl.SubjectKeyId, err = keyID(key.Public()); err != nil {
		return nil, nil, fmt.Errorf("new signing identity: %w", err)
	}
	// Named by hand: the issuer's name is the subject's, which
	// x509.CreateCertificate takes for a self-signed certificate.
	tmpl.AuthorityKeyId = parent.SubjectKeyId
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), authKey)
	if err != nil {
		return nil, nil, fmt.Errorf("new signing identity: create certificate: %w", err)
	}
	return certDER, key, nil
}

// newKey makes an RSA-2048 ("rsa2048") or P-256 ("p256") key.
func newKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "rsa2048":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate rsa key: %w", err)
		}
		return k, nil
	case "p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate p256 key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unknown algorithm %q (want rsa2048 or p256)", alg)
}

// certTemplate is a leaf certificate for subject with a random serial
// number, valid from an hour ago until notAfter (see NewIdentity).
func certTemplate(subject pkix.Name, notAfter time.Time, usage x509.KeyUsage) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("make serial number: %w", err)
	}
	now := time.Now()
	if notAfter.IsZero() {
		notAfter = now.AddDate(1, 0, 0)
	}
	notBefore := now.Add(-time.Hour)
	if !notAfter.After(notBefore) {
		notBefore = notAfter.AddDate(-1, 0, 0)
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		Issuer:                subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		BasicConstraintsValid: true,
	}, nil
}

// keyID is the SHA-1 of the public key's bits, as RFC 5280 4.2.1.2 method
// 1 names a key.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha1.Sum(spki.Key.Bytes)
	return sum[:], nil
}
