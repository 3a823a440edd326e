package piv

import (
	"context"
	"errors"
	"fmt"
)

// ErrPINBlocked reports that the card refuses the PIN because its retry counter is exhausted.
var ErrPINBlocked = errors.New("PIN blocked")

// ErrWrongPIN matches every *WrongPINError with errors.Is.
var ErrWrongPIN = errors.New("wrong PIN")

// WrongPINError reports a PIN the card rejected and how many tries it still allows.
type WrongPINError struct{ Retries int }

// Error says the PIN was wrong and how many retries are left.
func (e *WrongPINError) Error() string {
	return fmt.Sprintf("wrong PIN, %d retries left", e.Retries)
}

// Is matches ErrWrongPIN, and ErrPINBlocked when no retries are left.
func (e *WrongPINError) Is(target error) bool {
	return target == ErrWrongPIN || (target == ErrPINBlocked && e.Retries == 0)
}

// maxPIN is the PIN field of VERIFY, padded with FF.
const maxPIN = 8

// VerifyPIN presents the PIV application PIN (1 to 8 bytes) to the card.
//
// It returns nil when the card accepts it, a *WrongPINError when it does not,
// ErrPINBlocked when the card refuses any PIN, a plain error for a PIN of the wrong
// length, and an error wrapping ErrUnsupportedCard for any other answer.
func VerifyPIN(ctx context.Context, c Card, pin []byte) error {
	if len(pin) < 1 || len(pin) > maxPIN {
		return fmt.Errorf("verify PIN: PIN must be 1 to %d bytes, got %d", maxPIN, len(pin))
	}
	var block [maxPIN]byte
	defer clear(block[:])
	n := copy(block[:], pin)
	for i := n; i < maxPIN; i++ {
		block[i] = 0xFF
	}
	_, sw, err := Exchange(ctx, c, Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: KeyRefPIV, Data: block[:], Le: -1})
	if err != nil {
		return fmt.Errorf("verify PIN: %w", err)
	}
	switch {
	case sw == swOK:
		return nil
	case sw&0xFFF0 == 0x63C0:
		return &WrongPINError{Retries: int(sw & 0x0F)}
	case sw == swPINBlocked:
		return ErrPINBlocked
	default:
		return unsupported("verify PIN: unexpected status word %s to VERIFY", StatusWord(sw))
	}
}

// PINRetries asks the card, without presenting a PIN, whether the PIN is already
// verified and otherwise how many tries are left (0 when blocked). When verified is
// true the card does not say the count and retries is -1.
func PINRetries(ctx context.Context, c Card) (retries int, verified bool, err error) {
	_, sw, err := Exchange(ctx, c, Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: KeyRefPIV, Le: -1})
	if err != nil {
		return 0, false, fmt.Errorf("read PIN retries: %w", err)
	}
	switch {
	case sw == swOK:
		return -1, true, nil
	case sw&0xFFF0 == 0x63C0:
		return int(sw & 0x0F), false, nil
	case sw == swPINBlocked:
		return 0, false, nil
	default:
		return 0, false, unsupported("read PIN retries: unexpected status word %s to VERIFY", StatusWord(sw))
	}
}

// ErrPINResetUnsupported means the card refuses VERIFY with P1 FF, as cards
// built to PIV editions before SP 800-73-4 do; its PIN's verified state must
// be cleared another way (a card reset). It matches ErrUnsupportedCard too,
// so a caller that does not clear it another way reports the card as
// unsupported.
var ErrPINResetUnsupported = fmt.Errorf("the card cannot reset its PIN status with VERIFY P1=FF: %w", ErrUnsupportedCard)

// ResetPINStatus clears the card's PIN-verified state (VERIFY with P1 FF,
// SP 800-73-4), so that the next signing needs the PIN again. A card that
// refuses the command as one it does not know gives an error wrapping
// ErrPINResetUnsupported; any other status word but 9000 one wrapping only
// ErrUnsupportedCard.
func ResetPINStatus(ctx context.Context, c Card) error {
	_, sw, err := Exchange(ctx, c, Command{INS: 0x20, P1: 0xFF, P2: KeyRefPIV, Le: -1})
	if err != nil {
		return fmt.Errorf("reset PIN status: %w", err)
	}
	switch sw {
	case swOK:
		return nil
	// Earlier PIV editions allow only P1 00: they answer 6A86 (incorrect
	// P1-P2), or 6B00 (wrong parameters), the older ISO 7816-4 word for it.
	// 6A81 (function not supported) says the same in so many words, and
	// 6D00 (instruction not supported) comes from cards that look up INS and
	// P1 together. None of them leaves anything half done: the card simply
	// does not do this, and the PIN state is checked and cleared another way.
	case swWrongP1P2, swWrongParameters, swFunctionNotSupported, swINSNotSupported:
		return fmt.Errorf("reset PIN status: status word %s: %w", StatusWord(sw), ErrPINResetUnsupported)
	}
	return unsupported("reset PIN status: unexpected status word %s", StatusWord(sw))
}
