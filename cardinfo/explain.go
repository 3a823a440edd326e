package cardinfo

import (
	"strings"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
)

// Problem is what went wrong reading a card, in words for the card holder
// and the helpdesk; the error's code and message stay the technical detail.
type Problem struct {
	// NotPIV says the card is not an NHS smartcard (it has no PIV
	// application): a bank card, a building pass, a card put in upside
	// down.
	NotPIV bool
	// What says what is wrong, in plain words.
	What string
	// Advice says what to do about it.
	Advice string
}

// Explain says in plain words what a card error from NewCard (or a
// signing session) means. It reads the error's code and the message made
// by package piv or pcsc; messages it does not know are explained by
// their code alone.
func Explain(e api.Error) Problem {
	msg := e.Message
	has := func(s string) bool { return strings.Contains(msg, s) }
	switch e.Code {
	case api.CodePCSCUnavailable:
		return Problem{What: "The smart card service of this computer is not running.",
			Advice: "Start the smart card service, or restart the computer. If it keeps happening, call your IT helpdesk."}
	case api.CodeNoReader:
		return Problem{What: "The card reader was unplugged while the card was being read.",
			Advice: "Plug the reader in again and leave it plugged in."}
	case api.CodeNoCard:
		return Problem{What: "The card was taken out while it was being read.",
			Advice: "Put the card back in, chip first, and leave it in."}
	case api.CodeBusy:
		return Problem{What: "Another program is using the card.",
			Advice: "Close other smartcard programs, or sign out and back in, then take the card out and put it back in."}
	case api.CodeWrongPIN:
		return Problem{What: "The PIN was wrong.", Advice: "Try again carefully: a few wrong PINs in a row lock the card."}
	case api.CodePINBlocked:
		return Problem{What: "The card's PIN is locked after too many wrong tries.",
			Advice: "Ask your Registration Authority (RA) to unlock the card."}
	case api.CodePINCancelled:
		return Problem{What: "The PIN prompt was cancelled.", Advice: "Try again and enter your PIN."}
	case api.CodeUnsupportedCard:
		switch {
		case has("no PIV application"), has("to SELECT"):
			return Problem{NotPIV: true, What: "This card is not an NHS smartcard.",
				Advice: "Check that you put in your NHS smartcard (not a bank card or a building pass), chip first and the right way up."}
		case has("no authentication certificate"):
			return Problem{What: "This smartcard holds no login certificate: it has not been set up, or its certificate was removed.",
				Advice: "Ask your Registration Authority (RA) to check the card."}
		case has("certificate"):
			return Problem{What: "The login certificate on this smartcard cannot be read: it is damaged or in a form cardbridge does not know.",
				Advice: "Try the card in another reader; if it still fails, ask your Registration Authority (RA) to check the card."}
		case has(pcsc.ErrCardTimeout.Error()), has(pcsc.ErrCardUnresponsive.Error()):
			return Problem{What: "The card does not answer.",
				Advice: "Take the card out, clean the chip gently, and put it back in, chip first. If it still does not answer, try another reader."}
		}
		return Problem{What: "The card answered in a way cardbridge does not understand.",
			Advice: "Take the card out and put it back in; if it keeps happening, try another reader, then ask your Registration Authority (RA) to check the card."}
	}
	return Problem{What: "The card could not be read.",
		Advice: "Take the card out and put it back in. If it keeps happening, call your IT helpdesk with the details below."}
}
