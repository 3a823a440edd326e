package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"
)

// getDataSignCert is GET DATA of the digital signature certificate (5FC10A).
var getDataSignCert = []byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x0A, 0x00}

// TestNewSigningIdentity: the slot 9C certificate names the same holder and
// the same authority key as the authentication certificate, is issued under
// it and is for non-repudiation only, as Web eID's validators want a
// signing certificate.
func TestNewSigningIdentity(t *testing.T) {
	for _, alg := range []string{"rsa2048", "p256"} {
		t.Run(alg, func(t *testing.T) {
			authDER, authKey, err := NewIdentity("p256", NHSSubject("555123456789"), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			signDER, signKey, err := NewSigningIdentity(alg, authDER, authKey)
			if err != nil {
				t.Fatalf("NewSigningIdentity: %v", err)
			}
			auth, _ := x509.ParseCertificate(authDER)
			sign, err := x509.ParseCertificate(signDER)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sign.RawSubject, auth.RawSubject) || !bytes.Equal(sign.RawIssuer, auth.RawSubject) {
				t.Errorf("subject %q issuer %q, want both %q", sign.Subject, sign.Issuer, auth.Subject)
			}
			if len(auth.AuthorityKeyId) == 0 || !bytes.Equal(sign.AuthorityKeyId, auth.AuthorityKeyId) || !bytes.Equal(auth.AuthorityKeyId, auth.SubjectKeyId) {
				t.Errorf("authority key ids %X and %X (auth's own %X), want one", sign.AuthorityKeyId, auth.AuthorityKeyId, auth.SubjectKeyId)
			}
			if sign.KeyUsage != x509.KeyUsageContentCommitment || auth.KeyUsage&x509.KeyUsageContentCommitment == 0 {
				t.Errorf("key usages %b (signing) and %b (authentication)", sign.KeyUsage, auth.KeyUsage)
			}
			if err := auth.CheckSignature(sign.SignatureAlgorithm, sign.RawTBSCertificate, sign.Signature); err != nil {
				t.Errorf("not signed by the authentication key: %v", err)
			}
			if !sign.NotAfter.Equal(auth.NotAfter) || !signKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(sign.PublicKey) {
				t.Error("validity or key differs")
			}
		})
	}
}

// TestSigningSlot: a card with a slot 9C certificate and key serves the
// certificate object 5FC10A and signs with the 9C key, which asks for the
// PIN again before each signature; slot 9A is unchanged.
func TestSigningSlot(t *testing.T) {
	auth := identity(t, "rsa2048")
	signDER, signKey, err := NewSigningIdentity("p256", auth.cert, auth.key)
	if err != nil {
		t.Fatal(err)
	}
	card := New(Config{Certificate: auth.cert, Key: auth.key, SigningCertificate: signDER, SigningKey: signKey})
	send := func(cmd []byte) ([]byte, uint16) {
		t.Helper()
		var data []byte
		for cmd != nil {
			resp, err := card.Transmit(cmd)
			if err != nil {
				t.Fatalf("Transmit: %v", err)
			}
			more, sw := splitSW(resp)
			data, cmd = append(data, more...), nil
			if sw>>8 != 0x61 {
				return data, sw
			}
			cmd = []byte{0x00, 0xC0, 0x00, 0x00, byte(sw)}
		}
		return data, 0
	}
	send(selectShort)
	if obj, sw := send(getDataSignCert); sw != 0x9000 || !bytes.Equal(obj, wantObject(t, signDER, false)) {
		t.Fatalf("GET DATA 5FC10A: SW %04X, %d bytes; want the signing certificate's object", sw, len(obj))
	}
	digest := sha256.Sum256([]byte("a prescription"))
	sign9C := append([]byte{0x00, 0x87, 0x11, 0x9C, byte(len(dynAuth(digest[:])))}, dynAuth(digest[:])...)
	if _, sw := send(sign9C); sw != 0x6982 {
		t.Errorf("9C before VERIFY: SW %04X, want 6982", sw)
	}
	send(verifyCmd("123456"))
	data, sw := send(sign9C)
	if sw != 0x9000 || !ecdsa.VerifyASN1(signKey.Public().(*ecdsa.PublicKey), digest[:], signature(t, data)) {
		t.Fatalf("9C signature: SW %04X, or it does not verify with the signing key", sw)
	}
	if _, sw := send(sign9C); sw != 0x6982 {
		t.Errorf("a second 9C signature on one VERIFY: SW %04X, want 6982", sw)
	}
	send(verifyCmd("123456"))
	for _, cmd := range generalAuthCmds(0x07, dynAuth(pkcs1Block(digest[:])), 200) {
		data, sw = send(cmd)
	}
	if sw != 0x9000 || rsa.VerifyPKCS1v15(auth.key.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], signature(t, data)) != nil {
		t.Errorf("9A signature on the same card: SW %04X, or it does not verify", sw)
	}

	// A card without a 9C certificate answers 6A82, as NHS cards do.
	card = New(Config{Certificate: auth.cert, Key: auth.key})
	send(selectShort)
	if _, sw := send(getDataSignCert); sw != 0x6A82 {
		t.Errorf("GET DATA 5FC10A without one: SW %04X, want 6A82", sw)
	}
}
