package piv

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
)

func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIdentity(t *testing.T) {
	rsaCert := makeCert(t, testRSAKey, nhsSubject("555123456789"), 0)
	ecCert := makeCert(t, testECKey, nhsSubject("555000000042"), 0)
	bigCert := makeCert(t, testRSAKey, nhsSubject("555123456789"), 3000)
	tests := []struct {
		name        string
		key         crypto.Signer
		cert        []byte
		object      []byte
		chunk       int
		wantUUID    string
		minGetResps int
	}{
		{"RSA-2048 plain", testRSAKey, rsaCert, certObject(rsaCert, 0x00), 0, "555123456789", 1},
		{"RSA-2048 gzip", testRSAKey, rsaCert, certObject(gzipBytes(t, rsaCert), 0x01), 0, "555123456789", 0},
		{"P-256 plain", testECKey, ecCert, certObject(ecCert, 0x00), 0, "555000000042", 0},
		{"P-256 gzip", testECKey, ecCert, certObject(gzipBytes(t, ecCert), 0x01), 0, "555000000042", 0},
		{"large certificate over many 61xx rounds", testRSAKey, bigCert, certObject(bigCert, 0x00), 0, "555123456789", 10},
		{"small answers", testRSAKey, rsaCert, certObject(rsaCert, 0x00), 100, "555123456789", 7},
		{"CertInfo bits other than gzip ignored", testRSAKey, rsaCert, certObject(rsaCert, 0x04), 0, "555123456789", 1},
		{"no CertInfo", testRSAKey, rsaCert, AppendTLV(nil, 0x53, AppendTLV(nil, 0x70, rsaCert)), 0, "555123456789", 1},
		{"non-minimal lengths", testRSAKey, rsaCert, append([]byte{0x53, 0x83, 0x00, byte((len(rsaCert) + 5) >> 8), byte(len(rsaCert) + 5), 0x70, 0x83, 0x00, byte(len(rsaCert) >> 8), byte(len(rsaCert))}, rsaCert...), 0, "555123456789", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &pivCard{certObject: tt.object, chunk: tt.chunk}
			id, err := ReadIdentity(context.Background(), card)
			if err != nil {
				t.Fatalf("ReadIdentity: %v", err)
			}
			if id.UUID != tt.wantUUID {
				t.Errorf("UUID = %q, want %q", id.UUID, tt.wantUUID)
			}
			if want := "CN=" + tt.wantUUID + ", OU=People, O=nhs"; id.Subject != want {
				t.Errorf("Subject = %q, want %q", id.Subject, want)
			}
			if !id.NotAfter.Equal(testNotAfter) {
				t.Errorf("NotAfter = %v, want %v", id.NotAfter, testNotAfter)
			}
			if !bytes.Equal(id.Certificate.Raw, tt.cert) {
				t.Errorf("Certificate.Raw differs from the card's certificate")
			}
			if !id.Certificate.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.key.Public()) {
				t.Errorf("certificate key is not the card's key")
			}
			if len(card.sent) < 2 {
				t.Fatalf("sent %d commands", len(card.sent))
			}
			if got, want := card.sent[0], (Command{0x00, 0xA4, 0x04, 0x00, pivAID, 256}); !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("first command = % X, want SELECT % X", got.Bytes(), want.Bytes())
			}
			if got, want := card.sent[1].Bytes(), unhex(t, "00 CB 3F FF 05 5C 03 5F C1 05 00"); !bytes.Equal(got, want) {
				t.Errorf("second command = % X, want GET DATA % X", got, want)
			}
			getResps := 0
			for _, c := range card.sent[2:] {
				if c.INS != 0xC0 {
					t.Errorf("unexpected command % X", c.Bytes())
				}
				getResps++
			}
			if getResps < tt.minGetResps {
				t.Errorf("%d GET RESPONSE rounds, want at least %d", getResps, tt.minGetResps)
			}

			der, err := readCertificate(context.Background(), &pivCard{certObject: tt.object, chunk: tt.chunk})
			if err != nil || !bytes.Equal(der, tt.cert) {
				t.Errorf("readCertificate = %d bytes, %v; want the certificate", len(der), err)
			}
		})
	}
}

func TestReadIdentitySubjectOrder(t *testing.T) {
	// Subject encoded CN first: the string still follows the certificate's own order.
	seq := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "555123456789"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "People"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "nhs, trust"}},
	}
	raw, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	cert := makeCert(t, testECKey, raw, 0)
	id, err := ReadIdentity(context.Background(), &pivCard{certObject: certObject(cert, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `O=nhs\, trust, OU=People, CN=555123456789`; id.Subject != want {
		t.Errorf("Subject = %q, want %q", id.Subject, want)
	}
}

func TestReadIdentityFailures(t *testing.T) {
	rsaCert := makeCert(t, testRSAKey, nhsSubject("555123456789"), 0)
	noCN := makeCert(t, testRSAKey, nhsSubject(""), 0)
	blankCN := makeCert(t, testRSAKey, nhsSubject("  "), 0)
	bomb := gzipBytes(t, make([]byte, 1<<20))
	selectOK := sw(nil, 0x9000)
	tests := []struct {
		name    string
		card    Card
		wantErr string
		again   bool // same kind of failure as an earlier case, so the same message
	}{
		{"SELECT 6A82", &pivCard{noApplet: true}, "read identity: no PIV application (SELECT answered 6A82)", false},
		{"SELECT 6F00", &scriptCard{answers: [][]byte{sw(nil, 0x6F00)}}, "read identity: unexpected status word 6F00 to SELECT", false},
		{"SELECT short answer", &scriptCard{answers: [][]byte{{0x90}}}, "read identity: 1-byte response to SELECT, too short for a status word", false},
		{"GET DATA 6A82", &pivCard{}, "read identity: card has no authentication certificate", false},
		{"GET DATA 6F00", &scriptCard{answers: [][]byte{selectOK, sw(nil, 0x6F00)}}, "read identity: unexpected status word 6F00 to GET DATA", false},
		{"GET DATA endless 61xx", &loopCard{first: [][]byte{selectOK}, answer: sw([]byte{0x53}, 0x6101)}, "read identity: more than 300 GET RESPONSE rounds (61xx/6Cxx) for GET DATA", false},
		{"length past end", &pivCard{certObject: append(unhex(t, "53 82 10 00 70 82 0F FC"), rsaCert...)}, "read identity: malformed certificate object: parse TLV at offset 0: tag 53: length 4096 past end", false},
		{"length past end inside 53", &pivCard{certObject: unhex(t, "53 04 70 05 01 02")}, "read identity: malformed certificate object: in tag 53: parse TLV at offset 0: tag 70: length 5 past end (2 left)", false},
		{"indefinite length", &pivCard{certObject: unhex(t, "53 80 70 01 01 00 00")}, "malformed certificate object: parse TLV at offset 0: tag 53: indefinite length not allowed", false},
		{"missing 53", &pivCard{certObject: AppendTLV(nil, 0x70, rsaCert)}, "read identity: malformed certificate object: no data object (tag 53)", false},
		{"missing 70", &pivCard{certObject: AppendTLV(nil, 0x53, AppendTLV(AppendTLV(nil, 0x71, []byte{0}), 0xFE, nil))}, "read identity: malformed certificate object: no certificate (tag 70)", false},
		{"empty 53", &pivCard{certObject: unhex(t, "53 00")}, "read identity: card has no authentication certificate (empty data object)", false},
		{"empty 70", &pivCard{certObject: certObject(nil, 0)}, "read identity: card has no authentication certificate (empty tag 70)", false},
		{"garbage certificate", &pivCard{certObject: certObject([]byte("this is not a certificate"), 0)}, "read identity: parse certificate: x509: malformed certificate", false},
		{"truncated certificate", &pivCard{certObject: certObject(rsaCert[:len(rsaCert)-10], 0)}, "read identity: parse certificate: x509: malformed certificate", true},
		{"empty CN", &pivCard{certObject: certObject(noCN, 0)}, "read identity: certificate subject has no common name", false},
		{"blank CN", &pivCard{certObject: certObject(blankCN, 0)}, "read identity: certificate subject has no common name", true},
		{"gzip bomb", &pivCard{certObject: certObject(bomb, 0x01)}, "read identity: malformed certificate object: decompressed certificate larger than 65536 bytes", false},
		{"gzip flag on plain certificate", &pivCard{certObject: certObject(rsaCert, 0x01)}, "read identity: malformed certificate object: decompress certificate: gzip: invalid header", false},
		{"truncated gzip", &pivCard{certObject: certObject(gzipBytes(t, rsaCert)[:100], 0x01)}, "read identity: malformed certificate object: decompress certificate: unexpected EOF", false},
		{"gzip of nothing", &pivCard{certObject: certObject(gzipBytes(t, nil), 0x01)}, "read identity: malformed certificate object: compressed certificate is empty", false},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ReadIdentity(context.Background(), tt.card)
			if id != nil {
				t.Errorf("got an identity with error %v", err)
			}
			if !errors.Is(err, ErrUnsupportedCard) {
				t.Fatalf("err = %v, want it to wrap ErrUnsupportedCard", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("err = %q, want it to contain %q", msg, tt.wantErr)
			}
			if !strings.HasSuffix(msg, ": unsupported card") {
				t.Errorf("err = %q, want it to end with the sentinel", msg)
			}
			if other, dup := seen[msg]; dup && !tt.again {
				t.Errorf("same message as %q: %q", other, msg)
			}
			seen[msg] = tt.name
		})
	}
}

func TestSelectPIV(t *testing.T) {
	if err := SelectPIV(context.Background(), &pivCard{}); err != nil {
		t.Errorf("SelectPIV: %v", err)
	}
	err := SelectPIV(context.Background(), &pivCard{noApplet: true})
	if !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), "select PIV application: no PIV application") {
		t.Errorf("err = %v", err)
	}
}

func TestReadIdentityContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	card := &pivCard{}
	_, err := ReadIdentity(ctx, card)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnsupportedCard) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(card.sent) != 0 {
		t.Errorf("sent %d commands", len(card.sent))
	}
}

// TestReadSigningCertificate: the slot 9C certificate is read where the card
// has one; a card without one (NHS cards) gives none and no error; a broken
// one is an unsupported card.
func TestReadSigningCertificate(t *testing.T) {
	authCert := makeCert(t, testRSAKey, nhsSubject("555123456789"), 0)
	signCert := makeCert(t, testECKey, nhsSubject("555123456789"), 3000)
	selectOK := sw(nil, 0x9000)
	tests := []struct {
		name    string
		card    Card
		want    []byte // the certificate; nil for none
		wantErr string
	}{
		{"9C certificate", &pivCard{certObject: certObject(authCert, 0), signObject: certObject(signCert, 0), chunk: 100}, signCert, ""},
		{"compressed 9C certificate", &pivCard{certObject: certObject(authCert, 0), signObject: certObject(gzipBytes(t, signCert), 1)}, signCert, ""},
		{"no 9C certificate (6A82)", &pivCard{certObject: certObject(authCert, 0)}, nil, ""},
		{"empty 9C object", &pivCard{certObject: certObject(authCert, 0), signObject: unhex(t, "53 00")}, nil, ""},
		{"empty 9C tag 70", &pivCard{certObject: certObject(authCert, 0), signObject: certObject(nil, 0)}, nil, ""},
		{"GET DATA 6F00", &scriptCard{answers: [][]byte{selectOK, sw(certObject(authCert, 0), 0x9000), sw(nil, 0x6F00)}}, nil, "read signing certificate: unexpected status word 6F00 to GET DATA"},
		{"malformed object", &pivCard{certObject: certObject(authCert, 0), signObject: unhex(t, "53 04 70 05 01 02")}, nil, "read signing certificate: malformed certificate object"},
		{"garbage certificate", &pivCard{certObject: certObject(authCert, 0), signObject: certObject([]byte("not a certificate"), 0)}, nil, "read signing certificate: parse certificate: x509: malformed certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadIdentity(context.Background(), tt.card); err != nil {
				t.Fatalf("ReadIdentity: %v", err)
			}
			cert, err := ReadSigningCertificate(context.Background(), tt.card)
			switch {
			case tt.wantErr != "":
				if cert != nil || !errors.Is(err, ErrUnsupportedCard) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ReadSigningCertificate = %v, %v; want an unsupported card error %q", cert, err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("ReadSigningCertificate: %v", err)
			case tt.want == nil && cert != nil:
				t.Errorf("read a certificate from a card without one")
			case tt.want != nil && (cert == nil || !bytes.Equal(cert.Raw, tt.want)):
				t.Errorf("read %v, want the 9C certificate", cert)
			}
		})
	}
}
