//go:build linux && cgo

package tests

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/vcard"
)

// cardbridge runs the built binary and returns stdout, stderr and the exit code.
func cardbridge(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "cardbridge"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("cardbridge %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

func cardJSON(t *testing.T) api.Readers {
	t.Helper()
	out, errOut, code := cardbridge(t, "card", "--json")
	if code != 0 {
		t.Fatalf("cardbridge card --json exited %d: %s%s", code, out, errOut)
	}
	var r api.Readers
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("cardbridge card --json printed %q: %v", out, err)
	}
	return r
}

func TestCardCommand(t *testing.T) {
	needPCSCD(t)
	c, cert, _ := newCard(t, testCard{uuid: "555123456789"})
	insert(t, c, 1)

	r := cardJSON(t)
	if len(r.Readers) != 2 || r.Readers[0].Name != reader0 || r.Readers[1].Name != reader1 {
		t.Fatalf("readers = %+v", r.Readers)
	}
	if r.Readers[0].CardPresent || r.Readers[0].Card != nil {
		t.Errorf("empty reader shows a card: %+v", r.Readers[0])
	}
	card := r.Readers[1].Card
	if !r.Readers[1].CardPresent || card == nil {
		t.Fatalf("reader with the virtual card shows none: %+v", r.Readers[1])
	}
	if card.UUID != "555123456789" || card.Subject != "CN=555123456789, OU=People, O=nhs" || card.Reader != reader1 || !card.Present {
		t.Errorf("card = %+v", card)
	}
	if want := strings.ToUpper(hex.EncodeToString(vcard.DefaultATR())); card.ATR != want {
		t.Errorf("atr = %s, want %s", card.ATR, want)
	}
	if nb, err := time.Parse(time.RFC3339, card.NotAfter); err != nil || !nb.Equal(cert.NotAfter) {
		t.Errorf("notAfter = %q (%v), want %v", card.NotAfter, err, cert.NotAfter)
	}
	der, err := base64.StdEncoding.DecodeString(card.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := x509.ParseCertificate(der); err != nil || !got.Equal(cert) {
		t.Errorf("certificate is not the card's: %v", err)
	}

	out, _, code := cardbridge(t, "card")
	if code != 0 || !strings.Contains(out, "UUID:     555123456789") || !strings.Contains(out, reader0+": no card") {
		t.Errorf("cardbridge card (exit %d) printed:\n%s", code, out)
	}

	remove(t, c, 1)
	r = cardJSON(t)
	for _, rd := range r.Readers {
		if rd.CardPresent || rd.Card != nil {
			t.Errorf("after removal, reader shows a card: %+v", rd)
		}
	}
}

func TestCardCommandUnsupportedCard(t *testing.T) {
	needPCSCD(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000050", fault: vcard.FaultNoPIV})
	insert(t, c, 0)
	r := cardJSON(t) // exit 0: PC/SC answered
	card := r.Readers[0].Card
	if card == nil || card.Error == nil || card.Error.Code != api.CodeUnsupportedCard || card.UUID != "" {
		t.Fatalf("card without PIV = %+v", card)
	}
	out, _, code := cardbridge(t, "card")
	if code != 0 || !strings.Contains(out, "UNSUPPORTED_CARD") {
		t.Errorf("cardbridge card (exit %d) printed:\n%s", code, out)
	}
}

func TestCardCommandWithoutPCSC(t *testing.T) {
	needPCSCD(t)
	if err := bed.Stop(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cardbridge(t, "card")
	if code == 0 {
		t.Errorf("exit 0 without a PC/SC service")
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if out != "" || len(lines) != 1 || !strings.Contains(errOut, "PC/SC") || !strings.Contains(errOut, "not running") {
		t.Errorf("want one sentence on stderr saying PC/SC is not running; got stdout %q stderr %q", out, errOut)
	}
	out, _, code = cardbridge(t, "card", "--json")
	var body api.ErrorBody
	if code == 0 || json.Unmarshal([]byte(out), &body) != nil || body.Error.Code != api.CodePCSCUnavailable {
		t.Errorf("card --json without PC/SC: exit %d, %q", code, out)
	}
}

func TestVersionCommand(t *testing.T) {
	needPCSCD(t)
	out, _, code := cardbridge(t, "version")
	if code != 0 || !strings.HasPrefix(out, "cardbridge ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}
