package webeid

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxSigningCertificates bounds the signing certificates Verify reads from one token.
const maxSigningCertificates = 8

// The signature algorithm names a web-eid:1.1 token may list, as Web eID's validators
// accept them.
var (
	tokenCryptoAlgorithms = []string{cryptoRSA, cryptoECC}
	tokenPaddingSchemes   = []string{paddingNone, paddingPKCS1, paddingPSS}
)

// formatMinor returns the minor version of a web-eid:1 format: 0 for "web-eid:1" and
// "web-eid:1.0", N for "web-eid:1.N" (and "web-eid:1.N.x"); ok is false for any other.
func formatMinor(f string) (minor int, ok bool) {
	if f == "web-eid:1" {
		return 0, true
	}
	rest, found := strings.CutPrefix(f, "web-eid:1.")
	if !found {
		return 0, false
	}
	digits := 0
	for digits < len(rest) && digits < 4 && '0' <= rest[digits] && rest[digits] <= '9' {
		minor = minor*10 + int(rest[digits]-'0')
		digits++
	}
	if digits == 0 || digits < len(rest) && rest[digits] != '.' {
		return 0, false
	}
	return minor, true
}

// verifySigningCertificates checks a token's unverifiedSigningCertificates as Web eID's
// validators do, for a token of format minor version minor whose authentication
// certificate auth has been verified: a web-eid:1.0 token must carry none; from
// web-eid:1.1 on there must be at least one, each with a certificate of the same subject
// and the same issuing authority (authority key identifier) as auth, a key usage of
// non-repudiation, valid at now, and a non-empty list of supported signature algorithms
// from the names Web eID defines. Like Verify, it does not check who issued them.
func verifySigningCertificates(tok *Token, minor int, auth *x509.Certificate, now time.Time) error {
	scs := tok.UnverifiedSigningCertificates
	if minor == 0 {
		if scs != nil {
			return badToken("'unverifiedSigningCertificates' is not allowed in format %q", tok.Format)
		}
		return nil
	}
	switch {
	case len(scs) == 0:
		return badToken("'unverifiedSigningCertificates' is missing or empty, as format %q needs it", tok.Format)
	case len(scs) > maxSigningCertificates:
		return badToken("%d signing certificates, more than %d", len(scs), maxSigningCertificates)
	}
	for i, sc := range scs {
		if err := verifySigningCertificate(sc, auth, now); err != nil {
			return badToken("signing certificate %d: %v", i+1, err)
		}
	}
	return nil
}

// verifySigningCertificate checks one entry of unverifiedSigningCertificates.
func verifySigningCertificate(sc SigningCertificate, auth *x509.Certificate, now time.Time) error {
	switch {
	case sc.Certificate == "":
		return fmt.Errorf("no certificate")
	case len(sc.Certificate) > maxCertChars:
		return fmt.Errorf("certificate of %d characters is longer than %d", len(sc.Certificate), maxCertChars)
	case len(sc.SupportedSignatureAlgorithms) == 0:
		return fmt.Errorf("'supportedSignatureAlgorithms' is missing or empty")
	}
	for _, a := range sc.SupportedSignatureAlgorithms {
		if !slices.Contains(tokenCryptoAlgorithms, a.CryptoAlgorithm) || !slices.Contains(webEIDHashNames, a.HashFunction) || !slices.Contains(tokenPaddingSchemes, a.PaddingScheme) {
			return fmt.Errorf("unsupported signature algorithm {%q, %q, %q}", a.CryptoAlgorithm, a.HashFunction, a.PaddingScheme)
		}
	}
	der, err := base64.StdEncoding.DecodeString(sc.Certificate)
	if err != nil {
		return fmt.Errorf("decode certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("parse certificate: %v", err)
	}
	if !sameName(auth.RawSubject, cert.RawSubject) {
		return fmt.Errorf("subject %q is not the authentication certificate's %q", cert.Subject, auth.Subject)
	}
	if len(auth.AuthorityKeyId) == 0 || !bytes.Equal(auth.AuthorityKeyId, cert.AuthorityKeyId) {
		return fmt.Errorf("not issued by the authentication certificate's issuing authority (authority key identifiers %X and %X)", cert.AuthorityKeyId, auth.AuthorityKeyId)
	}
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		return fmt.Errorf("key usage has no non-repudiation, which digital signatures need")
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("not valid until %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// sameName reports whether two DER names hold the same attributes, in any order, with
// string values compared as X.500 does: case, leading, trailing and repeated spaces aside.
func sameName(a, b []byte) bool {
	na, okA := nameAttributes(a)
	nb, okB := nameAttributes(b)
	return okA && okB && slices.Equal(na, nb)
}

// nameAttributes lists a DER name's attributes as sorted "type=value" strings.
func nameAttributes(der []byte) ([]string, bool) {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
		return nil, false
	}
	var out []string
	for _, rdn := range seq {
		for _, atv := range rdn {
			v := fmt.Sprint(atv.Value)
			if s, ok := atv.Value.(string); ok {
				v = strings.ToLower(strings.Join(strings.Fields(s), " "))
			}
			out = append(out, atv.Type.String()+"="+v)
		}
	}
	slices.Sort(out)
	return out, true
}
