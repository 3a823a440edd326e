package piv

import (
	"errors"
	"fmt"
)

// ErrUnsupportedCard is wrapped by every error caused by what a card answered: unknown
// status words, short or malformed answers, missing application or certificate.
var ErrUnsupportedCard = errors.New("unsupported card")

// unsupported formats a message naming what was wrong and wraps ErrUnsupportedCard.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrUnsupportedCard)
}

// StatusWord formats a status word as four upper-case hex digits, for example "6A82".
func StatusWord(sw uint16) string {
	return fmt.Sprintf("%04X", sw)
}

// Status words the package interprets.
const (
	swOK                   = 0x9000
	swNotFound             = 0x6A82
	swPINBlocked           = 0x6983
	swSecurityNotSatisfied = 0x6982
	swWrongData            = 0x6A80
	swWrongP1P2            = 0x6A86
	swWrongParameters      = 0x6B00
	swFunctionNotSupported = 0x6A81
	swINSNotSupported      = 0x6D00
)
