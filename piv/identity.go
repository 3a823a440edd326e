package piv

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Identity is the card holder as named by the PIV authentication certificate.
type Identity struct {
	UUID        string    // subject CN of the PIV authentication certificate
	Subject     string    // RFC 4514 style, most specific first, e.g. "CN=555123456789, OU=People, O=nhs"
	NotAfter    time.Time // end of the certificate's validity
	Certificate *x509.Certificate
	// SigningCertificate is the digital signature certificate (slot 9C,
	// data object 5FC10A), nil when the card has none, as NHS cards have
	// none; ReadIdentity leaves it nil (see ReadSigningCertificate).
	SigningCertificate *x509.Certificate
	// SigningError says why the slot 9C certificate could not be read; nil
	// when it was read or the card has none.
	SigningError error
}

// PIV data the package reads.
var (
	pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08} // truncated AID, as SP 800-73 allows for SELECT
	// getAuthCert is the GET DATA tag list naming the PIV authentication certificate (5FC105).
	getAuthCert = []byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}
	// getSignCert names the PIV digital signature certificate (5FC10A).
	getSignCert = []byte{0x5C, 0x03, 0x5F, 0xC1, 0x0A}
)

// What the package calls the certificates it reads, in its errors.
const (
	authCertName = "authentication certificate"
	signCertName = "digital signature certificate"
)

// Tags of a PIV certificate data object.
const (
	tagDataObject  = 0x53
	tagCertificate = 0x70
	tagCertInfo    = 0x71

	// maxCertificate bounds a decompressed certificate.
	maxCertificate = 64 << 10
)

// ReadIdentity selects the PIV application, reads the authentication certificate and
// returns who it names. Card problems wrap ErrUnsupportedCard.
func ReadIdentity(ctx context.Context, c Card) (*Identity, error) {
	der, err := readCertificate(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	id, err := identityFromDER(der)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	return id, nil
}

// SelectPIV makes the PIV application current on the card, as VerifyPIN and
// GeneralAuthenticate need; ReadIdentity does it itself.
func SelectPIV(ctx context.Context, c Card) error {
	if err := selectPIV(ctx, c); err != nil {
		return fmt.Errorf("select PIV application: %w", err)
	}
	return nil
}

func selectPIV(ctx context.Context, c Card) error {
	_, sw, err := Exchange(ctx, c, Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x00, Data: pivAID, Le: 256})
	if err != nil {
		return err
	}
	switch sw {
	case swOK:
		return nil
	case swNotFound:
		return unsupported("no PIV application (SELECT answered %s)", StatusWord(sw))
	default:
		return unsupported("unexpected status word %s to SELECT", StatusWord(sw))
	}
}

// ReadSigningCertificate reads the digital signature certificate (slot 9C,
// data object 5FC10A) of a card whose PIV application is selected (as
// ReadIdentity leaves it). A card without one (6A82, or an empty object) gives
// nil and no error. Card problems wrap ErrUnsupportedCard.
func ReadSigningCertificate(ctx context.Context, c Card) (*x509.Certificate, error) {
	der, err := getCertificate(ctx, c, getSignCert, signCertName)
	var none *noCertificateError
	switch {
	case errors.As(err, &none):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("read signing certificate: parse certificate: %w: %w", err, ErrUnsupportedCard)
	}
	return cert, nil
}

// readCertificate selects PIV, reads data object 5FC105 and unwraps the certificate.
func readCertificate(ctx context.Context, c Card) ([]byte, error) {
	if err := selectPIV(ctx, c); err != nil {
		return nil, err
	}
	return getCertificate(ctx, c, getAuthCert, authCertName)
}

// getCertificate reads the certificate data object that tagList names
// (5C 03 5F C1 xx) and unwraps the certificate; name says which certificate
// it is, for errors. A card without it gives a *noCertificateError.
func getCertificate(ctx context.Context, c Card, tagList []byte, name string) ([]byte, error) {
	data, sw, err := Exchange(ctx, c, Command{CLA: 0x00, INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: tagList, Le: 256})
	if err != nil {
		return nil, err
	}
	switch sw {
	case swOK:
	case swNotFound:
		return nil, &noCertificateError{"card has no " + name}
	default:
		return nil, unsupported("unexpected status word %s to GET DATA", StatusWord(sw))
	}
	return parseCertObject(data, name)
}

// noCertificateError is a card without the certificate asked for: no data
// object, or an empty one. It wraps ErrUnsupportedCard, as a card without an
// authentication certificate cannot be used.
type noCertificateError struct{ msg string }

func (e *noCertificateError) Error() string { return e.msg + ": " + ErrUnsupportedCard.Error() }
func (e *noCertificateError) Unwrap() error { return ErrUnsupportedCard }

// parseCertObject unwraps a PIV certificate data object (53 { 70 cert, 71 CertInfo, ... })
// and decompresses the certificate when CertInfo bit 0 says it is gzipped.
func parseCertObject(b []byte, name string) ([]byte, error) {
	obj, ok, err := FindTag(b, tagDataObject)
	if err != nil {
		return nil, unsupported("malformed certificate object: %v", err)
	}
	if !ok {
		return nil, unsupported("malformed certificate object: no data object (tag 53)")
	}
	tlvs, err := ParseTLVs(obj)
	if err != nil {
		return nil, unsupported("malformed certificate object: in tag 53: %v", err)
	}
	var cert, info []byte
	var haveCert bool
	for _, t := range tlvs {
		switch {
		case t.Tag == tagCertificate && !haveCert:
			cert, haveCert = t.Value, true
		case t.Tag == tagCertInfo && info == nil:
			info = t.Value
		}
	}
	switch {
	case len(obj) == 0:
		return nil, &noCertificateError{"card has no " + name + " (empty data object)"}
	case !haveCert:
		return nil, unsupported("malformed certificate object: no certificate (tag 70)")
	case len(cert) == 0:
		return nil, &noCertificateError{"card has no " + name + " (empty tag 70)"}
	}
	if len(info) == 0 || info[0]&0x01 == 0 {
		return cert, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(cert))
	if err != nil {
		return nil, unsupported("malformed certificate object: decompress certificate: %v", err)
	}
	der, err := io.ReadAll(io.LimitReader(zr, maxCertificate+1))
	if err != nil {
		return nil, unsupported("malformed certificate object: decompress certificate: %v", err)
	}
	if len(der) > maxCertificate {
		return nil, unsupported("malformed certificate object: decompressed certificate larger than %d bytes", maxCertificate)
	}
	if len(der) == 0 {
		return nil, unsupported("malformed certificate object: compressed certificate is empty")
	}
	return der, nil
}

// identityFromDER parses a certificate and names its subject.
func identityFromDER(der []byte) (*Identity, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w: %w", err, ErrUnsupportedCard)
	}
	if strings.TrimSpace(cert.Subject.CommonName) == "" {
		return nil, unsupported("certificate subject has no common name")
	}
	subject, err := subjectString(cert.RawSubject)
	if err != nil {
		return nil, unsupported("certificate subject: %v", err)
	}
	return &Identity{
		UUID:        cert.Subject.CommonName,
		Subject:     subject,
		NotAfter:    cert.NotAfter,
		Certificate: cert,
	}, nil
}

// subjectString formats a DER Name in RFC 4514 order (most specific first), RDNs joined by ", ".
func subjectString(raw []byte) (string, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(raw, &seq)
	if err != nil {
		return "", err
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%d trailing bytes", len(rest))
	}
	parts := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		parts = append(parts, pkix.RDNSequence{seq[i]}.String())
	}
	return strings.Join(parts, ", "), nil
}
