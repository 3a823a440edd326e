//go:build linux && cgo

package tests

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/piv"
	"github.com/cardbridge/cardbridge/webeid"
)

// signOrigin is the page that asks for signatures in these tests.
const signOrigin = "https://my.esr.nhs.uk"

// digests are a digest of one document with each hash function the agent offers.
func digests() map[string][]byte {
	doc := []byte("<SignedInfo>prescription 42</SignedInfo>")
	d256, d384, d512 := sha256.Sum256(doc), sha512.Sum384(doc), sha512.Sum512(doc)
	return map[string][]byte{"SHA-256": d256[:], "SHA-384": d384[:], "SHA-512": d512[:]}
}

// postJSON posts v as JSON from signOrigin and decodes a 200 answer into out.
func (a *agentProc) postJSON(t *testing.T, path string, v any, out any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	status, body := a.post(t, path, signOrigin, "application/json", b)
	if status == 200 && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s answered %s: %v", path, body, err)
		}
	}
	return status, body
}

// getPINs counts the PIN prompts the scripted pinentry has shown.
func getPINs(t *testing.T, pinLog string) int {
	t.Helper()
	b, _ := os.ReadFile(pinLog)
	return bytes.Count(b, []byte("GETPIN"))
}

// checkSignature checks a POST /api/sign answer as a site's signing service does: with
// the certificate's key over the digest it sent, with the standard library, with Web
// eID's rules (webeid.VerifyDigestSignature) and with openssl pkeyutl.
func checkSignature(t *testing.T, cert *x509.Certificate, hashFunction string, digest []byte, sig *webeid.Signature) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil {
		t.Fatalf("signature is not standard Base64: %v", err)
	}
	hash := map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}[hashFunction]
	der := raw
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if sig.SignatureAlgorithm != (webeid.SignatureAlgorithm{CryptoAlgorithm: "RSA", HashFunction: hashFunction, PaddingScheme: "PKCS1.5"}) || len(raw) != 256 {
			t.Errorf("RSA signature algorithm %+v, %d bytes", sig.SignatureAlgorithm, len(raw))
		}
		if err := rsa.VerifyPKCS1v15(k, hash, digest, raw); err != nil {
			t.Errorf("%s RSA signature does not verify: %v", hashFunction, err)
		}
	case *ecdsa.PublicKey:
		if sig.SignatureAlgorithm != (webeid.SignatureAlgorithm{CryptoAlgorithm: "ECC", HashFunction: hashFunction, PaddingScheme: "NONE"}) || len(raw) != 64 {
			t.Fatalf("ECC signature algorithm %+v, %d bytes (want r||s of 64)", sig.SignatureAlgorithm, len(raw))
		}
		r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
		if !ecdsa.Verify(k, digest, r, s) {
			t.Errorf("%s ECDSA signature does not verify", hashFunction)
		}
		if der, err = asn1.Marshal(struct{ R, S *big.Int }{r, s}); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("key %T", k)
	}
	if err := webeid.VerifyDigestSignature(cert, sig.SignatureAlgorithm, digest, raw); err != nil {
		t.Errorf("VerifyDigestSignature: %v", err)
	}
	opensslVerify(t, cert, hashFunction, digest, der)
}

// opensslVerify has openssl check a signature (DER for ECDSA) of digest with the
// certificate's key, as a site can by hand; it skips without openssl.
func opensslVerify(t *testing.T, cert *x509.Certificate, hashFunction string, digest, sig []byte) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("openssl is not installed: signatures not checked with openssl pkeyutl -verify")
		return
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"cert.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		"digest.bin": digest,
		"sig.bin":    sig,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	md := strings.ToLower(strings.ReplaceAll(hashFunction, "-", ""))
	cmd := exec.Command(openssl, "pkeyutl", "-verify", "-certin", "-inkey", "cert.pem", "-in", "digest.bin", "-sigfile", "sig.bin", "-pkeyopt", "digest:"+md)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || string(bytes.TrimSpace(out)) != "Signature Verified Successfully" {
		t.Errorf("openssl pkeyutl -verify -pkeyopt digest:%s: %v\n%s", md, err, out)
	}
}

// TestWebEIDSigningAgent drives the agent as a Web eID page does, on the real pcscd,
// with an RSA and an EC card that carry, like NHS cards, one key (slot 9A): the signing
// certificate is that key's; each hash function signs, and the signatures verify as a
// site checks them, openssl included; bad requests and another card's certificate are
// refused before any PIN prompt; the PIN prompt names the page and says it is a
// signature; a web-eid:1.1 token carries the signing certificate and verifies as Web eID's
// validators check it; no PIN reaches a log.
func TestWebEIDSigningAgent(t *testing.T) {
	needPCSCD(t)
	a, pinLog := startSigningAgent(t)
	for _, tc := range []struct{ alg, uuid string }{{"rsa2048", "555000000200"}, {"p256", "555000000201"}} {
		t.Run(tc.alg, func(t *testing.T) {
			c, cert, _ := newCard(t, testCard{uuid: tc.uuid, alg: tc.alg, pin: secretPIN})
			insert(t, c, 0)
			defer remove(t, c, 0)
			a.waitCardRead(t, tc.uuid)

			var sc webeid.SigningCertificate
			if status, body := a.postJSON(t, "/api/signing-certificate", struct{}{}, &sc); status != 200 {
				t.Fatalf("signing certificate: %d %s", status, body)
			}
			if sc.Certificate != base64.StdEncoding.EncodeToString(cert.Raw) {
				t.Errorf("the signing certificate of a card with one key is not its certificate")
			}
			want, _ := webeid.SupportedSignatureAlgorithms(cert.PublicKey)
			if fmt.Sprint(sc.SupportedSignatureAlgorithms) != fmt.Sprint(want) {
				t.Errorf("supported algorithms %+v, want %+v", sc.SupportedSignatureAlgorithms, want)
			}
			prompts := getPINs(t, pinLog)

			// Refused before the PIN prompt.
			ds := digests()
			_, otherCert, _ := newCard(t, testCard{uuid: "555000000299", alg: tc.alg})
			for _, bad := range []struct {
				name   string
				req    webeid.SignRequest
				status int
				code   api.Code
				msg    string
			}{
				{"hash of the wrong length", webeid.SignRequest{Certificate: sc.Certificate, Hash: base64.StdEncoding.EncodeToString(ds["SHA-384"]), HashFunction: "SHA-256"}, 400, api.CodeBadRequest, "a SHA-256 hash is 32 bytes, this one is 48"},
				{"unknown hash function", webeid.SignRequest{Certificate: sc.Certificate, Hash: base64.StdEncoding.EncodeToString(ds["SHA-256"]), HashFunction: "SHA256"}, 400, api.CodeBadRequest, `unknown hashFunction "SHA256"`},
				{"hash not Base64", webeid.SignRequest{Certificate: sc.Certificate, Hash: "%%%", HashFunction: "SHA-256"}, 400, api.CodeBadRequest, "hash is not standard Base64"},
				{"certificate not Base64", webeid.SignRequest{Certificate: "~~~", Hash: base64.StdEncoding.EncodeToString(ds["SHA-256"]), HashFunction: "SHA-256"}, 400, api.CodeBadRequest, "certificate is not standard Base64"},
				{"another card's certificate", webeid.SignRequest{Certificate: base64.StdEncoding.EncodeToString(otherCert.Raw), Hash: base64.StdEncoding.EncodeToString(ds["SHA-256"]), HashFunction: "SHA-256"}, 409, api.CodeWrongCard, "is not the card's signing certificate"},
			} {
				status, body := a.postJSON(t, "/api/sign", bad.req, nil)
				var e api.ErrorBody
				_ = json.Unmarshal(body, &e)
				if status != bad.status || e.Error.Code != bad.code || !strings.Contains(e.Error.Message, bad.msg) {
					t.Errorf("%s: %d %s, want %d %s saying %q", bad.name, status, body, bad.status, bad.code, bad.msg)
				}
			}
			if status, body := a.post(t, "/api/sign", "", "application/json", []byte(`{}`)); status != 400 || !strings.Contains(string(body), "signing is for web pages") {
				t.Errorf("without an Origin: %d %s", status, body)
			}
			if n := getPINs(t, pinLog); n != prompts {
				t.Fatalf("the PIN was asked for %d refused requests", n-prompts)
			}

			// Each hash function signs, after the PIN.
			for _, hf := range []string{"SHA-256", "SHA-384", "SHA-512"} {
				var sig webeid.Signature
				status, body := a.postJSON(t, "/api/sign", webeid.SignRequest{Certificate: sc.Certificate, Hash: base64.StdEncoding.EncodeToString(ds[hf]), HashFunction: hf}, &sig)
				if status != 200 {
					t.Fatalf("sign %s: %d %s", hf, status, body)
				}
				checkSignature(t, cert, hf, ds[hf], &sig)
			}
			if n := getPINs(t, pinLog); n != prompts+3 {
				t.Errorf("%d PIN prompts for 3 signatures, want one each", n-prompts)
			}
			checkSignaturePrompt(t, pinLog)

			// Web eID 1.1 authentication carries the signing certificate.
			var tok webeid.Token
			status, body := a.postJSON(t, "/api/authenticate", map[string]any{"challenge": testNonce, "getSigningCertificate": true}, &tok)
			if status != 200 {
				t.Fatalf("authenticate 1.1: %d %s", status, body)
			}
			if tok.Format != "web-eid:1.1" || len(tok.UnverifiedSigningCertificates) != 1 || tok.UnverifiedSigningCertificates[0].Certificate != sc.Certificate {
				t.Errorf("token %s", body)
			}
			if got, err := webeid.Verify(&tok, signOrigin, testNonce, time.Now()); err != nil || !got.Equal(cert) {
				t.Errorf("the web-eid:1.1 token does not verify as Web eID's validators check it: %v", err)
			}
			if !strings.Contains(string(body), `"unverifiedSigningCertificates":[{"certificate":"`) {
				t.Errorf("token JSON %s", body)
			}
			// The 1.0 form still answers 1.0.
			status, body = a.postJSON(t, "/api/authenticate", map[string]any{"challenge": testNonce}, &tok)
			if status != 200 || tok.Format != "web-eid:1.0" || strings.Contains(string(body), "unverifiedSigningCertificates") {
				t.Errorf("authenticate 1.0: %d %s", status, body)
			}
			checkPINCleared(t, c)
		})
	}
	assertNoPINInLogs(t, a.log, pinLog)
}

// checkSignaturePrompt fails unless the last PIN prompt said, in its title and its
// description, that the page asks for a signature, naming the page.
func checkSignaturePrompt(t *testing.T, pinLog string) {
	t.Helper()
	b, _ := os.ReadFile(pinLog)
	log := string(b)
	start := strings.LastIndex(log, "START ")
	if start < 0 {
		t.Fatalf("pinentry never ran:\n%s", log)
	}
	last := log[start:]
	if !strings.Contains(last, signOrigin+" asks you to SIGN with your smartcard") || !strings.Contains(last, "This is a digital signature, not a login") {
		t.Errorf("the signature PIN prompt did not say it is a signature for %s:\n%s", signOrigin, last)
	}
	if !strings.Contains(last, "SETTITLE \"cardbridge: sign with your smartcard\"") {
		t.Errorf("the signature PIN prompt's title:\n%s", last)
	}
}

// newSigningCard makes a virtual card with a slot 9A key and certificate (authAlg) and a
// slot 9C digital signature key and certificate (signAlg) for the same holder; it is
// removed when the test ends.
func newSigningCard(t *testing.T, uuid, authAlg, signAlg string) (c *vcard.Card, auth, sign *x509.Certificate) {
	t.Helper()
	authDER, authKey, err := vcard.NewIdentity(authAlg, vcard.NHSSubject(uuid), time.Now().Add(365*24*time.Hour).Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	signDER, signKey, err := vcard.NewSigningIdentity(signAlg, authDER, authKey)
	if err != nil {
		t.Fatal(err)
	}
	c = vcard.New(vcard.Config{Logf: t.Logf, Certificate: authDER, Key: authKey, SigningCertificate: signDER, SigningKey: signKey, PIN: secretPIN, Retries: 3})
	t.Cleanup(func() { _ = c.Remove() })
	auth, _ = x509.ParseCertificate(authDER)
	sign, _ = x509.ParseCertificate(signDER)
	return c, auth, sign
}

// TestWebEIDSigningSlot9C: a card with a digital signature key (PIV slot 9C) signs with
// it, not with its authentication key: the signing certificate is the 9C one, GENERAL
// AUTHENTICATE names slot 9C, the signature verifies with the 9C key only, and a
// web-eid:1.1 token is signed with the 9A key and carries the 9C certificate.
func TestWebEIDSigningSlot9C(t *testing.T) {
	needPCSCD(t)
	a, pinLog := startSigningAgent(t)
	for _, tc := range []struct{ auth, sign, uuid string }{{"p256", "rsa2048", "555000000210"}, {"rsa2048", "p256", "555000000211"}} {
		t.Run(tc.auth+"+"+tc.sign, func(t *testing.T) {
			c, auth, sign := newSigningCard(t, tc.uuid, tc.auth, tc.sign)
			insert(t, c, 0)
			defer remove(t, c, 0)
			a.waitCardRead(t, tc.uuid)

			var sc webeid.SigningCertificate
			if status, body := a.postJSON(t, "/api/signing-certificate", struct{}{}, &sc); status != 200 || sc.Certificate != base64.StdEncoding.EncodeToString(sign.Raw) {
				t.Fatalf("signing certificate: %d %s; want the slot 9C certificate", status, body)
			}
			ds := digests()
			var sig webeid.Signature
			status, body := a.postJSON(t, "/api/sign", webeid.SignRequest{Certificate: sc.Certificate, Hash: base64.StdEncoding.EncodeToString(ds["SHA-256"]), HashFunction: "SHA-256"}, &sig)
			if status != 200 {
				t.Fatalf("sign: %d %s", status, body)
			}
			checkSignature(t, sign, "SHA-256", ds["SHA-256"], &sig)
			if err := webeid.VerifyDigestSignature(auth, sig.SignatureAlgorithm, ds["SHA-256"], mustDecode(t, sig.Signature)); err == nil {
				t.Error("the signature verifies with the authentication key")
			}
			if !sentGeneralAuthenticate(c, 0x9C) {
				t.Error("no GENERAL AUTHENTICATE named slot 9C")
			}
			checkSignaturePrompt(t, pinLog)

			// The authentication certificate's request is another card's for signing.
			status, body = a.postJSON(t, "/api/sign", webeid.SignRequest{Certificate: base64.StdEncoding.EncodeToString(auth.Raw), Hash: base64.StdEncoding.EncodeToString(ds["SHA-256"]), HashFunction: "SHA-256"}, nil)
			if status != 409 || !strings.Contains(string(body), "WRONG_CARD") {
				t.Errorf("signing with the authentication certificate: %d %s", status, body)
			}

			var tok webeid.Token
			if status, body := a.postJSON(t, "/api/authenticate", map[string]any{"challenge": testNonce, "getSigningCertificate": true}, &tok); status != 200 {
				t.Fatalf("authenticate 1.1: %d %s", status, body)
			}
			got, err := webeid.Verify(&tok, signOrigin, testNonce, time.Now())
			if err != nil || !got.Equal(auth) || tok.UnverifiedSigningCertificates[0].Certificate != sc.Certificate {
				t.Errorf("web-eid:1.1 token: %v; want it signed by the 9A key with the 9C certificate", err)
			}
			checkPINCleared(t, c)
		})
	}
	assertNoPINInLogs(t, a.log, pinLog)
}

// checkPINCleared checks, through a connection of its own as another program would use,
// that the card in reader0 has its PIN not verified and its full retry counter, whatever
// its key type.
func checkPINCleared(t *testing.T, c *vcard.Card) {
	t.Helper()
	if c.PINVerified() {
		t.Error("the card's PIN is verified")
	}
	conn := connectPIV(t)
	defer conn.Close()
	if retries, verified, err := piv.PINRetries(context.Background(), conn); err != nil || verified || retries != 3 {
		t.Errorf("PIN status = %d retries, verified %v, %v; want 3, not verified", retries, verified, err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sentGeneralAuthenticate reports whether c received a GENERAL AUTHENTICATE (the last
// command of a chain) for slot.
func sentGeneralAuthenticate(c *vcard.Card, slot byte) bool {
	for _, cmd := range c.Commands() {
		if len(cmd) >= 4 && cmd[0] == 0x00 && cmd[1] == 0x87 && cmd[3] == slot {
			return true
		}
	}
	return false
}

// TestSignatureSessionPINOutcomes: a signature session keeps the PIN rules of every
// signing: asked again after a wrong PIN with the attempts left, WRONG_PIN when the user
// gives up, a last-attempt prompt before the card blocks, PIN_BLOCKED without a prompt
// after; every wrong PIN logged with the attempts left, no PIN logged.
func TestSignatureSessionPINOutcomes(t *testing.T) {
	needPCSCD(t)
	log := &testutil.Buffer{}
	core, sub := runCoreLog(t, zerolog.New(log))
	c, cert, _ := newCard(t, testCard{uuid: "555000000220", alg: "p256"})
	insert(t, c, 0)
	waitIdentified(t, sub)
	d := sha256.Sum256([]byte("a prescription"))
	sign := func(p *pins) (*webeid.Signature, error) {
		ctx := context.WithValue(context.Background(), pinsKey{}, p)
		signing, err := core.SigningCertificate(ctx)
		if err != nil {
			return nil, err
		}
		h, err := webeid.ParseSignRequest(webeid.SignRequest{Certificate: base64.StdEncoding.EncodeToString(signing.Raw), Hash: base64.StdEncoding.EncodeToString(d[:]), HashFunction: "SHA-256"})
		if err != nil {
			return nil, err
		}
		s, err := core.OpenSignatureSigner(ctx, signOrigin)
		if err != nil {
			return nil, err
		}
		sig, err := webeid.Sign(ctx, s, h)
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		return sig, err
	}
	// Wrong, then right.
	p := &pins{answers: []string{"864209", "123456"}}
	sig, err := sign(p)
	if err != nil {
		t.Fatalf("wrong then right PIN: %v", err)
	}
	checkSignature(t, cert, "SHA-256", d[:], sig)
	if want := []string{signOrigin + "|3|false", signOrigin + "|2|true"}; strings.Join(p.asked, " ") != strings.Join(want, " ") {
		t.Errorf("prompts %q, want %q", p.asked, want)
	}
	checkPINCleared(t, c)
	// Wrong, then cancelled.
	if _, err := sign(&pins{answers: []string{"864209", ""}}); cardinfo.CodeOf(err) != api.CodeWrongPIN {
		t.Errorf("wrong then cancel: %v", err)
	}
	// Wrong until blocked; the last prompt is the last attempt.
	p = &pins{answers: []string{"864209", "864209"}}
	if _, err := sign(p); cardinfo.CodeOf(err) != api.CodePINBlocked {
		t.Errorf("wrong until blocked: %v", err)
	}
	if want := []string{signOrigin + "|2|false", signOrigin + "|1|true"}; strings.Join(p.asked, " ") != strings.Join(want, " ") {
		t.Errorf("prompts %q, want %q", p.asked, want)
	}
	p = &pins{answers: []string{"123456"}}
	if _, err := sign(p); cardinfo.CodeOf(err) != api.CodePINBlocked || len(p.asked) != 0 {
		t.Errorf("blocked card: %v, prompts %q", err, p.asked)
	}
	for _, want := range []string{
		`"attempts_left":2,"message":"wrong PIN"`,
		`"attempts_left":1,"message":"wrong PIN"`,
		`"attempts_left":0,"message":"wrong PIN: the card is now blocked"`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the agent log has no %s", want)
		}
	}
	if strings.Contains(log.String(), "864209") || strings.Contains(log.String(), "123456") {
		t.Errorf("a PIN is in the agent log:\n%s", log)
	}
}
