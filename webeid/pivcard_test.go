package webeid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/piv"
)

// pivKeySigner signs as the agent's signing session does, over APDUs: VERIFY, then
// GENERAL AUTHENTICATE in slot with the PKCS#1 v1.5 block the host pads for RSA, or the
// digest cut to 32 bytes for P-256.
type pivKeySigner struct {
	card testutil.Transmitter
	cert *x509.Certificate
	slot byte
}

func (s pivKeySigner) Public() crypto.PublicKey { return s.cert.PublicKey }

func (s pivKeySigner) Sign(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	if err := piv.VerifyPIN(ctx, s.card, []byte(vcard.DefaultPIN)); err != nil {
		return nil, err
	}
	if _, ok := s.cert.PublicKey.(*ecdsa.PublicKey); ok {
		return piv.GeneralAuthenticate(ctx, s.card, piv.AlgECCP256, s.slot, digest[:min(len(digest), 32)])
	}
	block, err := piv.PKCS1v15Pad(hash, digest, 256)
	if err != nil {
		return nil, err
	}
	return piv.GeneralAuthenticate(ctx, s.card, piv.AlgRSA2048, s.slot, block)
}

// TestSignWithVirtualPIVCard runs the whole signing path over the virtual card's APDUs,
// without PC/SC: the card's slot 9C certificate is read as the signing certificate, a sign
// request for it is checked, the card signs the SHA-384 digest with the 9C key, and the
// signature verifies; a web-eid:1.1 token signed with the 9A key carries the 9C
// certificate and verifies as Web eID's validators check it.
func TestSignWithVirtualPIVCard(t *testing.T) {
	ctx := context.Background()
	for _, algs := range [][2]string{{"rsa2048", "p256"}, {"p256", "rsa2048"}} {
		t.Run(algs[0]+"+"+algs[1], func(t *testing.T) {
			authDER, authKey, err := vcard.NewIdentity(algs[0], vcard.NHSSubject("555123456789"), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			signDER, signKey, err := vcard.NewSigningIdentity(algs[1], authDER, authKey)
			if err != nil {
				t.Fatal(err)
			}
			card := testutil.Transmitter{Card: vcard.New(vcard.Config{Certificate: authDER, Key: authKey, SigningCertificate: signDER, SigningKey: signKey})}
			id, err := piv.ReadIdentity(ctx, card)
			if err != nil {
				t.Fatal(err)
			}
			signing, err := piv.ReadSigningCertificate(ctx, card)
			if err != nil || signing == nil || string(signing.Raw) != string(signDER) {
				t.Fatalf("ReadSigningCertificate = %v, %v; want the 9C certificate", signing, err)
			}

			d := sha512.Sum384([]byte("a prescription"))
			h, err := ParseSignRequest(SignRequest{Certificate: base64.StdEncoding.EncodeToString(signing.Raw), Hash: base64.StdEncoding.EncodeToString(d[:]), HashFunction: "SHA-384"})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.CheckCertificate(signing); err != nil {
				t.Fatal(err)
			}
			sig, err := Sign(ctx, pivKeySigner{card, signing, piv.SlotSignature}, h)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := VerifyDigestSignature(signing, sig.SignatureAlgorithm, d[:], must(base64.StdEncoding.DecodeString(sig.Signature))); err != nil {
				t.Errorf("the 9C signature does not verify: %v", err)
			}
			// The 9C key wants the PIN again for each signature; the 9A key signs the token.
			tok, err := Create(ctx, pivKeySigner{card, id.Certificate, piv.SlotAuthentication}, id.Certificate, testOrigin, testNonce, testAppVersion)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if err := tok.WithSigningCertificate(signing); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(tok, testOrigin, testNonce, time.Now()); err != nil {
				t.Errorf("web-eid:1.1 token of the card: %v", err)
			}
			// A card of one key (NHS): its certificate signs and serves as signing certificate.
			one := testutil.Transmitter{Card: vcard.New(vcard.Config{Certificate: authDER, Key: authKey})}
			if _, err := piv.ReadIdentity(ctx, one); err != nil {
				t.Fatal(err)
			}
			if none, err := piv.ReadSigningCertificate(ctx, one); none != nil || err != nil {
				t.Fatalf("a card without slot 9C: %v, %v", none, err)
			}
			tok, err = Create(ctx, pivKeySigner{one, id.Certificate, piv.SlotAuthentication}, id.Certificate, testOrigin, testNonce, testAppVersion)
			if err == nil {
				err = tok.WithSigningCertificate(id.Certificate)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(tok, testOrigin, testNonce, time.Now()); err != nil {
				t.Errorf("web-eid:1.1 token of a one-key card: %v", err)
			}
		})
	}
}
