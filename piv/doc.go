// Package piv is the host side of talking to a PIV smartcard (NHS smartcards among them):
// APDU encoding and exchange with command chaining and GET RESPONSE, the BER-TLV used by
// PIV, reading the card holder's identity from the authentication certificate, PIN
// verification and signing with GENERAL AUTHENTICATE.
//
// It is pure logic over the Card interface and imports no PC/SC code, so the agent drives
// it through a real reader and tests drive it through fakes. A card's answers are
// untrusted: anything a card does that the package cannot use is reported as an error
// wrapping ErrUnsupportedCard, never a panic, and no allocation is sized by a length the
// card chose beyond fixed bounds.
package piv
