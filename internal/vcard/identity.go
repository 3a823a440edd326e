package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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
// started a year before notAfter.
func NewIdentity(alg string, subject pkix.Name, notAfter time.Time) (certDER []byte, key crypto.Signer, err error) {
	usage := x509.KeyUsageDigitalSignature
	switch alg {
	case "rsa2048":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, fmt.Errorf("new identity: generate rsa key: %w", err)
		}
		key = k
		usage |= x509.KeyUsageKeyEncipherment
	case "p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("new identity: generate p256 key: %w", err)
		}
		key = k
	default:
		return nil, nil, fmt.Errorf("new identity: unknown algorithm %q (want rsa2048 or p256)", alg)
	}

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("new identity: make serial number: %w", err)
	}
	now := time.Now()
	if notAfter.IsZero() {
		notAfter = now.AddDate(1, 0, 0)
	}
	notBefore := now.Add(-time.Hour)
	if !notAfter.After(notBefore) {
		notBefore = notAfter.AddDate(-1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		Issuer:                subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("new identity: create certificate: %w", err)
	}
	return certDER, key, nil
}
