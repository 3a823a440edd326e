//go:build linux && cgo

package tests

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// readIdentity reads the card in reader through the real pcscd, bounded by d.
func readIdentity(t testing.TB, reader string, d time.Duration) (*piv.Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return cardinfo.ReadIdentity(ctx, reader)
}

func TestReadIdentity(t *testing.T) {
	needPCSCD(t)
	for _, tc := range []testCard{
		{uuid: "555123456789", alg: "rsa2048"},
		{uuid: "555123456790", alg: "p256"},
		{uuid: "555123456791", alg: "rsa2048", gzip: true},
	} {
		t.Run(tc.alg+map[bool]string{true: "-gzip"}[tc.gzip], func(t *testing.T) {
			c, cert, _ := newCard(t, tc)
			insert(t, c, 0)
			id, err := readIdentity(t, reader0, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if id.UUID != tc.uuid {
				t.Errorf("UUID = %q, want %q", id.UUID, tc.uuid)
			}
			if want := "CN=" + tc.uuid + ", OU=People, O=nhs"; id.Subject != want {
				t.Errorf("Subject = %q, want %q", id.Subject, want)
			}
			if !id.NotAfter.Equal(cert.NotAfter) || !id.Certificate.Equal(cert) {
				t.Errorf("certificate read back differs (notAfter %v, want %v)", id.NotAfter, cert.NotAfter)
			}
			remove(t, c, 0)
		})
	}
}

func TestTwoCardsAtOnce(t *testing.T) {
	needPCSCD(t)
	c0, _, _ := newCard(t, testCard{uuid: "555000000010"})
	c1, _, _ := newCard(t, testCard{uuid: "555000000011", alg: "p256"})
	insert(t, c0, 0)
	insert(t, c1, 1)
	var wg sync.WaitGroup
	got := make([]string, 2)
	errs := make([]error, 2)
	for i, r := range []string{reader0, reader1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 { // interleave several reads on both readers
				id, err := readIdentity(t, r, 10*time.Second)
				if err != nil {
					errs[i] = err
					return
				}
				got[i] = id.UUID
			}
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors: %v, %v", errs[0], errs[1])
	}
	if got[0] != "555000000010" || got[1] != "555000000011" {
		t.Errorf("UUIDs = %q, want the card in each reader's own", got)
	}
}

func TestFaultyCards(t *testing.T) {
	needPCSCD(t)
	cases := []struct {
		fault vcard.Fault
		delay time.Duration
		want  string // in the error message
	}{
		{vcard.FaultNoPIV, 0, "no PIV application"},
		{vcard.FaultNoCertificate, 0, "no authentication certificate"},
		{vcard.FaultMalformedTLV, 0, "malformed"},
		{vcard.FaultGarbage, 0, ""},
		{vcard.FaultSlow, 4 * time.Second, "did not answer in time"},
		{vcard.FaultDisconnect, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.fault.String(), func(t *testing.T) {
			c, _, _ := newCard(t, testCard{uuid: "555000000020", fault: tc.fault, delay: tc.delay})
			insert(t, c, 0)
			start := time.Now()
			id, err := readIdentity(t, reader0, 1500*time.Millisecond)
			if err == nil {
				t.Fatalf("read identity %+v from a card with fault %s", id, tc.fault)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v to give up; every exchange has a deadline", d)
			}
			code := cardinfo.CodeOf(err)
			switch tc.fault {
			case vcard.FaultDisconnect:
				// The card vanished: no card, or the reader's error for it.
				if code != api.CodeNoCard && code != api.CodeUnsupportedCard {
					t.Errorf("code = %s (%v), want NO_CARD or UNSUPPORTED_CARD", code, err)
				}
			default:
				if code != api.CodeUnsupportedCard {
					t.Errorf("code = %s (%v), want UNSUPPORTED_CARD", code, err)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			_ = c.Remove()
			waitPresent(t, reader0, false)
			// A good card in the same reader works right after.
			good, _, _ := newCard(t, testCard{uuid: "555000000021"})
			insert(t, good, 0)
			if id, err := readIdentity(t, reader0, 10*time.Second); err != nil || id.UUID != "555000000021" {
				t.Fatalf("good card after a faulty one: %+v, %v", id, err)
			}
			remove(t, good, 0)
		})
	}
}

// openPIV connects to the card in reader and selects its PIV application;
// the connection closes and the context ends with the test.
func openPIV(t *testing.T, reader string) (context.Context, *pcsc.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	conn, err := pcsc.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := piv.SelectPIV(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return ctx, conn
}

func TestSignThroughPCSCD(t *testing.T) {
	needPCSCD(t)
	digest := sha256.Sum256([]byte("cardbridge integration test"))
	for _, alg := range []string{"rsa2048", "p256"} {
		t.Run(alg, func(t *testing.T) {
			c, cert, _ := newCard(t, testCard{uuid: "555000000030", alg: alg})
			insert(t, c, 1)
			ctx, conn := openPIV(t, reader1)
			// Signing before VERIFY is refused by the card.
			if _, err := sign(ctx, conn, alg, digest[:]); err == nil {
				t.Fatal("card signed without a verified PIN")
			}
			err := piv.VerifyPIN(ctx, conn, []byte("000000"))
			var wrong *piv.WrongPINError
			if !errors.As(err, &wrong) || wrong.Retries != 2 {
				t.Fatalf("wrong PIN: %v, want 2 retries left", err)
			}
			if err := piv.VerifyPIN(ctx, conn, []byte("123456")); err != nil {
				t.Fatal(err)
			}
			if n := c.RetriesLeft(); n != 3 {
				t.Errorf("retries after a good PIN = %d, want 3", n)
			}
			sig, err := sign(ctx, conn, alg, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			switch pub := cert.PublicKey.(type) {
			case *rsa.PublicKey:
				err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					err = errors.New("ECDSA signature does not verify")
				}
			}
			if err != nil {
				t.Fatalf("signature made through pcscd does not verify: %v", err)
			}
		})
	}
}

func sign(ctx context.Context, conn piv.Card, alg string, digest []byte) ([]byte, error) {
	if alg == "p256" {
		return piv.GeneralAuthenticate(ctx, conn, piv.AlgECCP256, piv.SlotAuthentication, digest)
	}
	block, err := piv.PKCS1v15Pad(crypto.SHA256, digest, 256)
	if err != nil {
		return nil, err
	}
	return piv.GeneralAuthenticate(ctx, conn, piv.AlgRSA2048, piv.SlotAuthentication, block)
}

func TestPINBlocked(t *testing.T) {
	needPCSCD(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000040"})
	insert(t, c, 0)
	ctx, conn := openPIV(t, reader0)
	for want := 2; want >= 0; want-- {
		err := piv.VerifyPIN(ctx, conn, []byte("999999"))
		if want == 0 {
			if !errors.Is(err, piv.ErrPINBlocked) {
				t.Fatalf("third wrong PIN: %v, want ErrPINBlocked", err)
			}
			break
		}
		var wrong *piv.WrongPINError
		if !errors.As(err, &wrong) || wrong.Retries != want {
			t.Fatalf("wrong PIN: %v, want %d retries left", err, want)
		}
	}
	if err := piv.VerifyPIN(ctx, conn, []byte("123456")); !errors.Is(err, piv.ErrPINBlocked) {
		t.Errorf("right PIN on a blocked card: %v, want ErrPINBlocked", err)
	}
	if retries, _, err := piv.PINRetries(ctx, conn); err != nil && !errors.Is(err, piv.ErrPINBlocked) || retries != 0 {
		t.Errorf("PINRetries on a blocked card = %d, %v", retries, err)
	}
}
