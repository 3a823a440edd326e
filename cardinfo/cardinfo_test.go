package cardinfo

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
	"github.com/cardbridge/cardbridge/webeid"
)

func TestCodeOf(t *testing.T) {
	cases := []struct {
		err  error
		want api.Code
	}{
		{fmt.Errorf("list readers: %w", pcsc.ErrUnavailable), api.CodePCSCUnavailable},
		{&pcsc.Error{Op: "SCardConnect", Code: 0x80100009, Kind: pcsc.ErrNoReader}, api.CodeNoReader},
		{fmt.Errorf("open: %w", pcsc.ErrNoCard), api.CodeNoCard},
		{pcsc.ErrCardBusy, api.CodeBusy},
		{fmt.Errorf("read identity: no PIV application: %w", piv.ErrUnsupportedCard), api.CodeUnsupportedCard},
		{fmt.Errorf("transmit: %w", pcsc.ErrCardTimeout), api.CodeUnsupportedCard},
		{pcsc.ErrCardUnresponsive, api.CodeUnsupportedCard},
		{&piv.WrongPINError{Retries: 2}, api.CodeWrongPIN},
		{piv.ErrPINBlocked, api.CodePINBlocked},
		{fmt.Errorf("pinentry: %w", ErrPINCancelled), api.CodePINCancelled},
		{fmt.Errorf("wait for the card: %w", ErrBusy), api.CodeBusy},
		{fmt.Errorf("verify: %w", &piv.WrongPINError{Retries: 1}), api.CodeWrongPIN},
		{fmt.Errorf("sign: %w", webeid.ErrCertificateMismatch), api.CodeWrongCard},
		{fmt.Errorf("origin: %w", webeid.ErrInvalidInput), api.CodeBadRequest},
		{errors.New("something else"), api.CodeInternal},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			if got := CodeOf(c.err); got != c.want {
				t.Errorf("CodeOf(%v) = %s, want %s", c.err, got, c.want)
			}
			if e := fromError(c.err); e.Code != c.want || e.Message != c.err.Error() {
				t.Errorf("fromError(%v) = %+v", c.err, e)
			}
		})
	}
}

func TestCardJSON(t *testing.T) {
	notAfter := time.Date(2027, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	id := &piv.Identity{UUID: "555123456789", Subject: "CN=555123456789, OU=People, O=nhs", NotAfter: notAfter,
		Certificate: &x509.Certificate{Raw: []byte{0x30, 0x03, 0x01, 0x02, 0x03}}}
	b, err := json.Marshal(NewCard("R 00 00", []byte{0x3b, 0xff}, id, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"present":true,"reader":"R 00 00","atr":"3BFF","uuid":"555123456789","subject":"CN=555123456789, OU=People, O=nhs","notAfter":"2027-03-01T11:00:00Z","certificate":"MAMBAgM="}`
	if string(b) != want {
		t.Errorf("CARD =\n%s\nwant\n%s", b, want)
	}
	b, _ = json.Marshal(NewCard("R", []byte{1}, nil, fmt.Errorf("x: %w", piv.ErrUnsupportedCard)))
	if want := `{"present":true,"reader":"R","atr":"01","error":{"code":"UNSUPPORTED_CARD","message":"x: unsupported card"}}`; string(b) != want {
		t.Errorf("unreadable CARD = %s, want %s", b, want)
	}
	b, _ = json.Marshal(api.NoCard)
	if string(b) != `{"present":false}` {
		t.Errorf("NoCard = %s", b)
	}
	b, _ = json.Marshal(api.Readers{Readers: []api.Reader{{Name: "R", CardPresent: false}}})
	if want := `{"readers":[{"name":"R","cardPresent":false,"card":null}]}`; string(b) != want {
		t.Errorf("readers = %s, want %s", b, want)
	}
}
