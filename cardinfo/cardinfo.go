// Package cardinfo describes a smartcard as the API shows it: it reads a
// card's identity, makes the api.Card that pages see, and names the API
// error code of an error from PC/SC, the card, a signing session or Web
// eID. The agent, `cardbridge card` and `cardbridge doctor` share it, so
// that each shows a card, and what went wrong with it, alike.
package cardinfo

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
	"github.com/cardbridge/cardbridge/webeid"
)

// ReadIdentity reads the identity of the card in reader on a PC/SC
// connection of its own, inside a transaction so that no other program's
// commands interleave with the chained GET DATA. It reads the digital
// signature certificate (slot 9C) too, where the card has one: a card whose
// slot 9C cannot be read keeps its identity, with SigningError saying why.
func ReadIdentity(ctx context.Context, reader string) (*piv.Identity, error) {
	conn, err := pcsc.Connect(ctx, reader)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var id *piv.Identity
	err = conn.Transaction(ctx, func() error {
		if id, err = piv.ReadIdentity(ctx, conn); err != nil {
			return err
		}
		id.SigningCertificate, id.SigningError = piv.ReadSigningCertificate(ctx, conn)
		return nil
	})
	return id, err
}

// Read reads the identity of the card in r on a connection of its own
// (ReadIdentity) and describes it (NewCard), as `cardbridge card` and
// `cardbridge doctor` show it.
func Read(ctx context.Context, r pcsc.Reader) api.Card {
	id, err := ReadIdentity(ctx, r.Name)
	return NewCard(r.Name, r.ATR, id, err)
}

// NewCard describes a card in reader with the given ATR; id may be nil when
// the identity has not been (or could not be) read, and readErr says why.
func NewCard(reader string, atr []byte, id *piv.Identity, readErr error) api.Card {
	c := api.Card{Present: true, Reader: reader, ATR: strings.ToUpper(hex.EncodeToString(atr))}
	if id != nil {
		c.UUID = id.UUID
		c.Subject = id.Subject
		c.NotAfter = id.NotAfter.UTC().Format(time.RFC3339)
		if id.Certificate != nil {
			c.Certificate = base64.StdEncoding.EncodeToString(id.Certificate.Raw)
		}
	}
	if readErr != nil {
		e := fromError(readErr)
		c.Error = &e
	}
	return c
}

// ErrPINCancelled means the user cancelled the PIN prompt.
var ErrPINCancelled = errors.New("PIN entry cancelled")

// ErrBusy means the card was busy with another signing for longer than the
// request could wait, or the agent is restarting.
var ErrBusy = errors.New("the card is busy signing for another request")

// CodeOf classifies err by the sentinel errors it wraps, for the API: those
// of PC/SC, the card, a signing session and Web eID (WRONG_CARD for a
// certificate that is not the card's, BAD_REQUEST for a request Web eID
// cannot sign); any other error, such as agent.ErrNoPINPrompt, is INTERNAL.
func CodeOf(err error) api.Code {
	switch {
	case errors.Is(err, webeid.ErrCertificateMismatch):
		return api.CodeWrongCard
	case errors.Is(err, webeid.ErrInvalidInput):
		return api.CodeBadRequest
	case errors.Is(err, pcsc.ErrUnavailable):
		return api.CodePCSCUnavailable
	case errors.Is(err, pcsc.ErrNoReader):
		return api.CodeNoReader
	case errors.Is(err, pcsc.ErrNoCard):
		return api.CodeNoCard
	case errors.Is(err, pcsc.ErrCardBusy):
		return api.CodeBusy
	case errors.Is(err, ErrPINCancelled):
		return api.CodePINCancelled
	case errors.Is(err, ErrBusy):
		return api.CodeBusy
	case errors.Is(err, piv.ErrPINBlocked):
		return api.CodePINBlocked
	case errors.Is(err, piv.ErrWrongPIN):
		return api.CodeWrongPIN
	case errors.Is(err, piv.ErrUnsupportedCard),
		errors.Is(err, pcsc.ErrCardTimeout),
		errors.Is(err, pcsc.ErrCardUnresponsive):
		return api.CodeUnsupportedCard
	}
	return api.CodeInternal
}

// fromError makes the error object for err.
func fromError(err error) api.Error {
	return api.Error{Code: CodeOf(err), Message: err.Error()}
}
