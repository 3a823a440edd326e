package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// TestOpenSignerRefusesBeforeTheCard: the signing sessions refused before
// any PC/SC call, and that each leaves no session counted.
func TestOpenSignerRefusesBeforeTheCard(t *testing.T) {
	ask := func(context.Context, PINRequest) ([]byte, error) {
		t.Error("the PIN prompt was asked")
		return nil, cardinfo.ErrPINCancelled
	}
	cases := []struct {
		name    string
		prompt  PINPrompt
		stopped bool         // StopSigning was called
		events  []pcsc.Event // applied first
		want    error        // errors.Is
	}{
		{name: "no PIN prompt", want: ErrNoPINPrompt},
		{name: "the agent is restarting", prompt: ask, stopped: true, want: cardinfo.ErrBusy},
		{name: "no card", prompt: ask, events: []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R0"}}, want: pcsc.ErrNoCard},
		{name: "card without an identity", prompt: ask, events: []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R9"},
			{Type: pcsc.CardInserted, Reader: "R9", ATR: []byte{1}}}, want: piv.ErrUnsupportedCard},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeReads{release: make(chan struct{})}
			close(f.release) // R9's read fails at once
			c := New(Options{ReadIdentity: f.read, PINPrompt: tc.prompt})
			for _, ev := range tc.events {
				c.Apply(ev)
			}
			c.Card(context.Background()) // the identity read is over
			if tc.stopped && !c.StopSigning() {
				t.Fatal("StopSigning refused with no session")
			}
			s, err := c.OpenSigner(context.Background(), "https://my.esr.nhs.uk")
			if s != nil || !errors.Is(err, tc.want) {
				t.Fatalf("OpenSigner = %v, %v; want %v", s, err, tc.want)
			}
			if !c.StopSigning() {
				t.Error("a refused session is still counted: StopSigning refuses")
			}
		})
	}
}

// TestSigningCertificate: a digital signature is made with the card's slot
// 9C certificate where it has one, else with its authentication
// certificate, as on NHS cards; a 9C certificate that could not be read, or
// a key cardbridge cannot sign with, is an unsupported card.
func TestSigningCertificate(t *testing.T) {
	auth := testCert(t, must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)))
	sign := testCert(t, must(rsa.GenerateKey(rand.Reader, 2048)))
	p384 := testCert(t, must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)))
	cases := []struct {
		name string
		id   *piv.Identity // nil: no card
		want *x509.Certificate
		err  error // errors.Is
	}{
		{name: "no card", err: pcsc.ErrNoCard},
		{name: "NHS card: authentication certificate only", id: &piv.Identity{UUID: "1", Certificate: auth}, want: auth},
		{name: "slot 9C certificate", id: &piv.Identity{UUID: "1", Certificate: auth, SigningCertificate: sign}, want: sign},
		{name: "slot 9C unreadable", id: &piv.Identity{UUID: "1", Certificate: auth, SigningError: fmt.Errorf("read signing certificate: malformed: %w", piv.ErrUnsupportedCard)}, err: piv.ErrUnsupportedCard},
		{name: "P-384 key", id: &piv.Identity{UUID: "1", Certificate: p384}, err: piv.ErrUnsupportedCard},
		{name: "P-384 slot 9C key", id: &piv.Identity{UUID: "1", Certificate: auth, SigningCertificate: p384}, err: piv.ErrUnsupportedCard},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeReads{release: make(chan struct{}), ids: map[string]*piv.Identity{"R0": tc.id}}
			close(f.release)
			c := New(Options{ReadIdentity: f.read, CardWait: 2 * time.Second})
			c.Apply(pcsc.Event{Type: pcsc.Available})
			c.Apply(pcsc.Event{Type: pcsc.ReaderAdded, Reader: "R0"})
			if tc.id != nil {
				c.Apply(pcsc.Event{Type: pcsc.CardInserted, Reader: "R0", ATR: []byte{1}})
			}
			got, err := c.SigningCertificate(context.Background())
			switch {
			case tc.err != nil && (got != nil || !errors.Is(err, tc.err)):
				t.Fatalf("SigningCertificate = %v, %v; want %v", got, err, tc.err)
			case tc.err == nil && (err != nil || got != tc.want):
				t.Fatalf("SigningCertificate = %v, %v; want the %s", got, err, tc.want.Subject)
			}
			if tc.err != nil {
				// A signature session is refused alike, before any prompt.
				c.opt.PINPrompt = func(context.Context, PINRequest) ([]byte, error) {
					t.Error("the PIN prompt was asked")
					return nil, cardinfo.ErrPINCancelled
				}
				if s, err := c.OpenSignatureSigner(context.Background(), "https://my.esr.nhs.uk"); s != nil || !errors.Is(err, tc.err) {
					t.Errorf("OpenSignatureSigner = %v, %v; want %v", s, err, tc.err)
				}
				if !c.StopSigning() {
					t.Error("a refused session is still counted")
				}
			}
		})
	}
}

// testCert is a self-signed certificate for key's public half.
func testCert(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "555123456789"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return must(x509.ParseCertificate(der))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
