package webeid

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// webEIDV11SigningCertificate is the signing certificate of the web-eid:1.1 token in the
// test suite of Web eID's PHP validator, web-eid/web-eid-authtoken-validation-php,
// tests/testutil/AbstractTestWithValidator.php (VALID_V11_AUTH_TOKEN): the EstEID test
// card of JÕEORG JAAK-KRISTJAN, P-384, key usage non-repudiation, issued by TEST of
// ESTEID2018 (the same authority key as the authentication certificate), valid from
// 2019-05-02 to 2029-05-02. Its subject lists the same attributes as the authentication
// certificate's in another order. The token lists RSA/SHA-256/PKCS1.5 for it, which the
// validators accept: they check the names, not the key.
const webEIDV11SigningCertificate = "MIID6zCCA02gAwIBAgIQT7j6zk6pmVRcyspLo5SqejAKBggqhkjOPQQDBDBgMQswCQYDVQQGEwJFRTEbMBkGA1UECgwSU0sgSUQgU29sdXRpb25zIEFTMRcwFQYDVQRhDA5OVFJFRS0xMDc0NzAxMzEbMBkGA1UEAwwSVEVTVCBvZiBFU1RFSUQyMDE4MB4XDTE5MDUwMjEwNDUzMVoXDTI5MDUwMjEwNDUzMVowfzELMAkGA1UEBhMCRUUxFjAUBgNVBCoMDUpBQUstS1JJU1RKQU4xEDAOBgNVBAQMB0rDlUVPUkcxKjAoBgNVBAMMIUrDlUVPUkcsSkFBSy1LUklTVEpBTiwzODAwMTA4NTcxODEaMBgGA1UEBRMRUE5PRUUtMzgwMDEwODU3MTgwdjAQBgcqhkjOPQIBBgUrgQQAIgNiAASkwENR8GmCpEs6OshDWDfIiKvGuyNMOD2rjIQW321AnZD3oIsqD0svBMNEJJj9Dlvq/47TYDObIa12KAU5IuOBfJs2lrFdSXZjaM+a5TWT3O2JTM36YDH2GcMe/eisepejggGrMIIBpzAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIGQDBIBgNVHSAEQTA/MDIGCysGAQQBg5EhAQIBMCMwIQYIKwYBBQUHAgEWFWh0dHBzOi8vd3d3LnNrLmVlL0NQUzAJBgcEAIvsQAECMB0GA1UdDgQWBBTVX3s48Spy/Es2TcXgkRvwUn2YcjCBigYIKwYBBQUHAQMEfjB8MAgGBgQAjkYBATAIBgYEAI5GAQQwEwYGBACORgEGMAkGBwQAjkYBBgEwUQYGBACORgEFMEcwRRY/aHR0cHM6Ly9zay5lZS9lbi9yZXBvc2l0b3J5L2NvbmRpdGlvbnMtZm9yLXVzZS1vZi1jZXJ0aWZpY2F0ZXMvEwJFTjAfBgNVHSMEGDAWgBTAhJkpxE6fOwI09pnhClYACCk+ezBzBggrBgEFBQcBAQRnMGUwLAYIKwYBBQUHMAGGIGh0dHA6Ly9haWEuZGVtby5zay5lZS9lc3RlaWQyMDE4MDUGCCsGAQUFBzAChilodHRwOi8vYy5zay5lZS9UZXN0X29mX0VTVEVJRDIwMTguZGVyLmNydDAKBggqhkjOPQQDBAOBiwAwgYcCQgGBr+Jbo1GeqgWdIwgMo7SA29AP38JxNm2HWq2Qb+kIHpusAK574Co1K5D4+Mk7/ITTuXQaET5WphHoN7tdAciTaQJBAn0zBigYyVPYSTO68HM6hmlwTwi/KlJDdXW/2NsMjSqofFFJXpGvpxk2CTqSRCjcavxLPnkasTbNROYSJcmM8Xc="

// webEIDV11Vector is VALID_V11_AUTH_TOKEN: the authentication part is the Java
// validator's ES384 web-eid:1.0 vector (the first of webEIDVectors), for https://ria.ee
// and the same nonce, with the signing certificate above and appVersion
// https://web-eid.eu/web-eid-mobile-app/releases/v1.0.0.
func webEIDV11Vector() webEIDVector {
	v := webEIDVectors[0]
	v.name = "php ES384 ria.ee web-eid:1.1"
	v.tok.UnverifiedSigningCertificates = []SigningCertificate{{
		Certificate:                  webEIDV11SigningCertificate,
		SupportedSignatureAlgorithms: []SignatureAlgorithm{{CryptoAlgorithm: "RSA", HashFunction: "SHA-256", PaddingScheme: "PKCS1.5"}},
	}}
	v.tok.AppVersion = "https://web-eid.eu/web-eid-mobile-app/releases/v1.0.0"
	v.tok.Format = "web-eid:1.1"
	return v
}

// TestVerifyWebEIDV11Vector: Verify accepts the web-eid:1.1 token Web eID's validators
// accept, and refuses it in each way their tests do.
func TestVerifyWebEIDV11Vector(t *testing.T) {
	v := webEIDV11Vector()
	if _, err := Verify(&v.tok, v.origin, v.nonce, v.now); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	latvian := webEIDVectors[2].tok.UnverifiedCertificate // another holder, another authority
	tests := []struct {
		name   string
		change func(*Token)
		want   string
	}{
		{"no signing certificates", func(k *Token) { k.UnverifiedSigningCertificates = nil }, "'unverifiedSigningCertificates' is missing or empty"},
		{"empty list", func(k *Token) { k.UnverifiedSigningCertificates = []SigningCertificate{} }, "'unverifiedSigningCertificates' is missing or empty"},
		{"format web-eid:1.0 with signing certificates", func(k *Token) { k.Format = "web-eid:1.0" }, "not allowed in format"},
		{"format web-eid:1 with signing certificates", func(k *Token) { k.Format = "web-eid:1" }, "not allowed in format"},
		{"entry without a certificate", func(k *Token) { k.UnverifiedSigningCertificates[0].Certificate = "" }, "no certificate"},
		{"no supported algorithms", func(k *Token) { k.UnverifiedSigningCertificates[0].SupportedSignatureAlgorithms = nil }, "'supportedSignatureAlgorithms' is missing"},
		{"unknown crypto algorithm", func(k *Token) {
			k.UnverifiedSigningCertificates[0].SupportedSignatureAlgorithms[0].CryptoAlgorithm = "DSA"
		}, "unsupported signature algorithm"},
		{"unknown hash function", func(k *Token) {
			k.UnverifiedSigningCertificates[0].SupportedSignatureAlgorithms[0].HashFunction = "MD5"
		}, "unsupported signature algorithm"},
		{"unknown padding", func(k *Token) {
			k.UnverifiedSigningCertificates[0].SupportedSignatureAlgorithms[0].PaddingScheme = "OAEP"
		}, "unsupported signature algorithm"},
		{"certificate not Base64", func(k *Token) { k.UnverifiedSigningCertificates[0].Certificate = "This is not a certificate" }, "decode certificate"},
		{"not a certificate", func(k *Token) {
			k.UnverifiedSigningCertificates[0].Certificate = "VGhpcyBpcyBub3QgYSBjZXJ0aWZpY2F0ZQ=="
		}, "parse certificate"},
		{"another holder's certificate", func(k *Token) { k.UnverifiedSigningCertificates[0].Certificate = latvian }, "is not the authentication certificate's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := webEIDV11Vector()
			tt.change(&v.tok)
			_, err := Verify(&v.tok, v.origin, v.nonce, v.now)
			if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "verify token: ") {
				t.Errorf("Verify = %v, want a token error saying %q", err, tt.want)
			}
		})
	}
	// The subjects hold the same attributes in another order, which the validators
	// take as the same subject.
	authCert := must(x509.ParseCertificate(must(base64.StdEncoding.DecodeString(v.tok.UnverifiedCertificate))))
	signCert := must(x509.ParseCertificate(must(base64.StdEncoding.DecodeString(webEIDV11SigningCertificate))))
	if !sameName(authCert.RawSubject, signCert.RawSubject) || string(authCert.RawSubject) == string(signCert.RawSubject) {
		t.Error("the vector's subjects are not the same attributes in another order")
	}
}

// TestWithSigningCertificate: a token that carries the signing certificate is web-eid:1.1,
// verifies as Web eID's validators check one, and is refused when its signing certificate
// is not one they accept.
func TestWithSigningCertificate(t *testing.T) {
	ca := newTestCA(t)
	auth, sign := cardCerts(t, ca, testP256Key(), testRSAKey())
	tok := createTokenFor(t, testP256Key, auth)
	if err := tok.WithSigningCertificate(sign); err != nil {
		t.Fatal(err)
	}
	if tok.Format != "web-eid:1.1" || len(tok.UnverifiedSigningCertificates) != 1 {
		t.Fatalf("token %+v", tok)
	}
	if _, err := Verify(tok, testOrigin, testNonce, testNow); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The JSON is Web eID's: the five strings and unverifiedSigningCertificates, in the
	// order Web eID's documents show them.
	b, _ := json.Marshal(tok)
	sc := `{"certificate":"` + base64.StdEncoding.EncodeToString(sign.Raw) + `","supportedSignatureAlgorithms":[` +
		`{"cryptoAlgorithm":"RSA","hashFunction":"SHA-256","paddingScheme":"PKCS1.5"},` +
		`{"cryptoAlgorithm":"RSA","hashFunction":"SHA-384","paddingScheme":"PKCS1.5"},` +
		`{"cryptoAlgorithm":"RSA","hashFunction":"SHA-512","paddingScheme":"PKCS1.5"}]}`
	want := `{"unverifiedCertificate":"` + tok.UnverifiedCertificate + `","algorithm":"ES256","signature":"` + tok.Signature +
		`","unverifiedSigningCertificates":[` + sc + `],"format":"web-eid:1.1","appVersion":"` + testAppVersion + `"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	var back Token
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(&back, testOrigin, testNonce, testNow); err != nil {
		t.Errorf("the token read back from JSON: %v", err)
	}

	// An NHS card's one certificate is both: it must then have non-repudiation too.
	both := ca.issue(t, testP256Key(), holder, x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment, testNotAfter)
	tok = createTokenFor(t, testP256Key, both)
	if err := tok.WithSigningCertificate(both); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(tok, testOrigin, testNonce, testNow); err != nil {
		t.Errorf("one certificate for both: %v", err)
	}

	otherCA := newTestCA(t)
	otherCA.cert.SubjectKeyId = []byte{1, 2, 3, 4}
	tests := []struct {
		name    string
		signing *x509.Certificate
		want    string
	}{
		{"another holder", ca.issue(t, testRSAKey(), pkix.Name{CommonName: "555000000002", OrganizationalUnit: []string{"People"}, Organization: []string{"nhs"}}, x509.KeyUsageContentCommitment, testNotAfter), "is not the authentication certificate's"},
		{"the same holder in other case and spacing", ca.issue(t, testRSAKey(), pkix.Name{CommonName: " 555123456789", OrganizationalUnit: []string{"PEOPLE"}, Organization: []string{"NHS"}}, x509.KeyUsageContentCommitment, testNotAfter), ""},
		{"another authority", otherCA.issue(t, testRSAKey(), holder, x509.KeyUsageContentCommitment, testNotAfter), "not issued by the authentication certificate's issuing authority"},
		{"no authority key identifier", selfSigned(t, testRSAKey(), holder, x509.KeyUsageContentCommitment), "not issued by the authentication certificate's issuing authority"},
		{"digital signature only", ca.issue(t, testRSAKey(), holder, x509.KeyUsageDigitalSignature, testNotAfter), "no non-repudiation"},
		{"expired", ca.issue(t, testRSAKey(), holder, x509.KeyUsageContentCommitment, testNow.Add(-time.Hour)), "signing certificate 1: expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := createTokenFor(t, testP256Key, auth)
			if err := tok.WithSigningCertificate(tt.signing); err != nil {
				t.Fatal(err)
			}
			_, err := Verify(tok, testOrigin, testNonce, testNow)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Verify = %v, want a token error saying %q", err, tt.want)
			}
		})
	}
	if err := new(Token).WithSigningCertificate(nil); err == nil {
		t.Error("no certificate: no error")
	}
}

// createTokenFor makes a web-eid:1.0 token for testOrigin and testNonce signed by key,
// whose certificate is cert.
func createTokenFor(t *testing.T, key func() crypto.Signer, cert *x509.Certificate) *Token {
	t.Helper()
	tok, err := Create(t.Context(), &cardSigner{key: key()}, cert, testOrigin, testNonce, testAppVersion)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tok
}

// selfSigned is a self-signed certificate without authority key identifier.
func selfSigned(t *testing.T, key crypto.Signer, subject pkix.Name, usage x509.KeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: subject, NotBefore: testNotBefore, NotAfter: testNotAfter, KeyUsage: usage}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return must(x509.ParseCertificate(der))
}

func TestFormatMinor(t *testing.T) {
	for f, want := range map[string]int{"web-eid:1": 0, "web-eid:1.0": 0, "web-eid:1.1": 1, "web-eid:1.1.0": 1, "web-eid:1.10": 10} {
		if got, ok := formatMinor(f); !ok || got != want {
			t.Errorf("formatMinor(%q) = %d, %v; want %d", f, got, ok, want)
		}
	}
	for _, f := range []string{"", "web-eid", "web-eid:1.", "web-eid:1.x", "web-eid:1.1x", "web-eid:2", "web-eid:10", "web-eid:1.12345", "WEB-EID:1.1"} {
		if _, ok := formatMinor(f); ok {
			t.Errorf("formatMinor(%q) accepted", f)
		}
	}
}
