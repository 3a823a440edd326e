package pcsc

import (
	"errors"
	"fmt"
)

// Sentinel errors callers test with errors.Is; every error this package
// returns for a PC/SC failure wraps one of them.
var (
	// ErrUnavailable means the PC/SC service is not running or went away.
	ErrUnavailable = errors.New("PC/SC service unavailable")
	// ErrNoReader means the named reader does not exist (any more).
	ErrNoReader = errors.New("no such reader")
	// ErrNoCard means the reader holds no card, or it was removed.
	ErrNoCard = errors.New("no card in reader")
	// ErrCardBusy means another program holds the card exclusively.
	ErrCardBusy = errors.New("card in use by another program")
	// ErrCardTimeout means the card did not answer before the deadline.
	ErrCardTimeout = errors.New("card did not answer in time")
	// ErrCardUnresponsive means the card is mute or cannot be powered.
	ErrCardUnresponsive = errors.New("card does not respond")
	// ErrClosed means the connection was already closed or broken.
	ErrClosed = errors.New("card connection closed")

	// errCancelled and errTimeout are GetStatusChange's normal wake-ups.
	errCancelled = errors.New("cancelled")
	errTimeout   = errors.New("timeout")
)

// Error is a failed PC/SC call: the operation, the platform's status code
// and the sentinel error it is classified as.
type Error struct {
	Op   string // the PC/SC function, e.g. "SCardTransmit"
	Code uint32 // the SCARD_* status code
	Msg  string // the platform's text for Code
	Kind error  // one of the sentinel errors, or nil when unclassified
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (0x%08X)", e.Op, e.Msg, e.Code)
}

// Unwrap lets errors.Is match the sentinel error the code is classified as.
func (e *Error) Unwrap() error { return e.Kind }

// PC/SC status codes, identical on pcsc-lite and WinSCard.
const (
	codeCancelled          = 0x80100002
	codeInvalidHandle      = 0x80100003
	codeUnknownReader      = 0x80100009
	codeTimeout            = 0x8010000A
	codeSharingViolation   = 0x8010000B
	codeNoSmartcard        = 0x8010000C
	codeReaderUnavailable  = 0x80100017
	codeCommError          = 0x80100013
	codeNoService          = 0x8010001D
	codeServiceStopped     = 0x8010001E
	codeNoReadersAvailable = 0x8010002E
	codeNotTransacted      = 0x80100016
	codeCommDataLost       = 0x8010002F
	codeUnresponsiveCard   = 0x80100066
	codeUnpoweredCard      = 0x80100067
	codeRemovedCard        = 0x80100069
)

// classify maps a PC/SC status code to the sentinel error it means.
func classify(code uint32) error {
	switch code {
	case codeCancelled:
		return errCancelled
	case codeTimeout:
		return errTimeout
	case codeNoService, codeServiceStopped, codeCommError, codeInvalidHandle:
		return ErrUnavailable
	case codeUnknownReader, codeReaderUnavailable:
		return ErrNoReader
	case codeNoSmartcard, codeRemovedCard:
		return ErrNoCard
	case codeSharingViolation:
		return ErrCardBusy
	case codeUnresponsiveCard, codeUnpoweredCard, codeNotTransacted, codeCommDataLost:
		return ErrCardUnresponsive
	}
	return nil
}
