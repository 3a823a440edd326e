package cardinfo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// TestExplainCardsAsRead: each way a virtual card fails, read by package
// piv as the agent reads it, is explained in plain words that name no
// status word or error code, and only the card without the PIV application
// counts as not an NHS card.
func TestExplainCardsAsRead(t *testing.T) {
	der, key, err := vcard.NewIdentity("p256", vcard.NHSSubject("555123456789"), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault  vcard.Fault
		notPIV bool
		what   string
	}{
		{vcard.FaultNoPIV, true, "not an NHS smartcard"},
		{vcard.FaultNoCertificate, false, "no login certificate"},
		{vcard.FaultMalformedTLV, false, "certificate on this smartcard cannot be read"},
		{vcard.FaultGarbage, false, "certificate on this smartcard cannot be read"},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			card := vcard.New(vcard.Config{Certificate: der, Key: key, Fault: tc.fault})
			id, readErr := piv.ReadIdentity(context.Background(), testutil.Transmitter{Card: card})
			if readErr == nil {
				t.Fatalf("read %+v from a card with fault %s", id, tc.fault)
			}
			k := NewCard("Virtual PCD 00 00", vcard.DefaultATR(), nil, readErr)
			p := Explain(*k.Error)
			if p.NotPIV != tc.notPIV || !strings.Contains(p.What, tc.what) || p.Advice == "" {
				t.Errorf("%s (%s) explained as %+v", k.Error.Code, k.Error.Message, p)
			}
			for _, jargon := range []string{"6A82", "SELECT", "APDU", "TLV", "tag", "UNSUPPORTED_CARD"} {
				if strings.Contains(p.What+p.Advice, jargon) {
					t.Errorf("the explanation %+v says %q", p, jargon)
				}
			}
		})
	}
}

func TestExplainByCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		what string
	}{
		{fmt.Errorf("connect: %w", pcsc.ErrUnavailable), "service"},
		{fmt.Errorf("connect: %w", pcsc.ErrNoCard), "taken out"},
		{pcsc.ErrCardBusy, "Another program"},
		{fmt.Errorf("transmit: %w", pcsc.ErrCardTimeout), "does not answer"},
		{pcsc.ErrCardUnresponsive, "does not answer"},
		{fmt.Errorf("read identity: unexpected status word 6F00 to SELECT: %w", piv.ErrUnsupportedCard), "not an NHS smartcard"},
		{fmt.Errorf("read identity: unexpected status word 6F00 to GET DATA: %w", piv.ErrUnsupportedCard), "does not understand"},
		{piv.ErrPINBlocked, "locked"},
		{fmt.Errorf("something new"), "could not be read"},
	} {
		p := Explain(fromError(tc.err))
		if !strings.Contains(p.What, tc.what) || p.Advice == "" {
			t.Errorf("%v explained as %+v, want %q", tc.err, p, tc.what)
		}
	}
	if p := Explain(api.Error{Code: api.CodeUnsupportedCard, Message: "read identity: no PIV application (SELECT answered 6A82): unsupported card"}); !p.NotPIV {
		t.Errorf("the agent's message for a card without PIV: %+v", p)
	}
}
