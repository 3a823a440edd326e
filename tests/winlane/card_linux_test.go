package winlane

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
)

// newCard makes a virtual PIV card (PIN lanePIN, 3 retries); it is removed
// when the test ends.
func newCard(t *testing.T, uuid, alg string) (*vcard.Card, *x509.Certificate, crypto.Signer) {
	t.Helper()
	der, key, err := vcard.NewIdentity(alg, vcard.NHSSubject(uuid), time.Now().Add(365*24*time.Hour).Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := vcard.New(vcard.Config{Logf: t.Logf, Certificate: der, Key: key, PIN: lanePIN, Retries: 3})
	t.Cleanup(func() { _ = c.Remove() })
	return c, cert, key
}

// insert puts c into the root's reader i and waits until its pcscd has
// talked to it.
func insert(t *testing.T, c *vcard.Card, i int) {
	t.Helper()
	if err := c.Insert(readerAddr(i)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitSeen(ctx); err != nil {
		t.Fatalf("the root's pcscd did not see the card: %v", err)
	}
}

// cardJSON runs `cardbridge.exe card --json` and returns reader i's entry.
func cardJSON(t *testing.T, i int) api.Reader {
	t.Helper()
	out, err := runWindows(2*time.Minute, "cardbridge", "card", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rs api.Readers
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("card --json printed %q: %v", out, err)
	}
	for _, r := range rs.Readers {
		if r.Name == readerName(i) {
			return r
		}
	}
	t.Fatalf("card --json lists no %q: %s", readerName(i), out)
	return api.Reader{}
}

// TestCardJSON: the Windows build lists the root's readers through WinSCard,
// reads the card's UUID, and sees the reader empty after the card is
// removed.
func TestCardJSON(t *testing.T) {
	needLane(t)
	c, _, _ := newCard(t, "555000000701", "rsa2048")
	insert(t, c, 0)
	var r api.Reader
	// pcscd reports the card at its next poll of the reader.
	testutil.WaitFor(t, 30*time.Second, 50*time.Millisecond, "card --json to show the card", func() bool {
		r = cardJSON(t, 0)
		return r.CardPresent
	})
	if r.Card == nil || r.Card.UUID != "555000000701" {
		t.Fatalf("with the card in %s, card --json gives %+v", readerName(0), r)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, 50*time.Millisecond, "card --json to show the reader empty", func() bool {
		r := cardJSON(t, 0)
		return !r.CardPresent && r.Card == nil
	})
	if r := cardJSON(t, 1); r.CardPresent {
		t.Errorf("the empty second reader shows a card: %+v", r)
	}
}

// lanePIN is the virtual cards' PIN: distinctive enough that finding it in
// a log means it leaked.
const lanePIN = "917364"

// TestDoctorUnderWine: the Windows build's doctor sees the root's PC/SC
// service and reader, and names the PIN prompt signing will use: the
// Windows credential dialog, with nothing installed.
func TestDoctorUnderWine(t *testing.T) {
	needLane(t)
	out, _ := runWindows(2*time.Minute, "cardbridge", "doctor", "--json", "--port", "0")
	var rep struct {
		Checks []struct{ ID, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out, err)
	}
	want := map[string]string{
		"pcsc":       "ok",
		"pin-prompt": "ok",
	}
	for _, c := range rep.Checks {
		if w, ok := want[c.ID]; ok {
			if c.Status != w {
				t.Errorf("doctor's %s check: %s %q, want %s", c.ID, c.Status, c.Detail, w)
			}
			delete(want, c.ID)
		}
		if c.ID == "pin-prompt" && !strings.Contains(c.Detail, "Windows credential dialog") {
			t.Errorf("doctor's PIN prompt: %q, want the Windows credential dialog", c.Detail)
		}
	}
	if len(want) > 0 {
		t.Errorf("doctor ran no %v check: %s", want, out)
	}
}
