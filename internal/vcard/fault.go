package vcard

import (
	"fmt"
	"strconv"
	"strings"
)

// Fault selects a way for the card to misbehave, for testing callers' error
// handling.
type Fault int

// The faults a Card can simulate.
const (
	// FaultNone makes the card behave correctly.
	FaultNone Fault = iota
	// FaultNoPIV makes SELECT of the PIV application fail with 6A82, like a
	// card without the applet.
	FaultNoPIV
	// FaultNoCertificate makes GET DATA of the certificate object fail with
	// 6A82, like an unpersonalised card.
	FaultNoCertificate
	// FaultMalformedTLV makes GET DATA answer a 53 object whose length runs
	// past the end of the data.
	FaultMalformedTLV
	// FaultGarbage makes GET DATA answer random bytes with status 9000.
	FaultGarbage
	// FaultSlow delays every APDU answer by Config.Delay; control codes,
	// including vpcd's ATR presence poll, are still answered at once.
	FaultSlow
	// FaultDisconnect makes the card drop its vpcd connection instead of
	// answering GET DATA, like a card pulled out mid-exchange.
	FaultDisconnect
)

// faultNames are the names ParseFault accepts and String returns, by Fault.
var faultNames = [...]string{
	FaultNone:          "none",
	FaultNoPIV:         "no-piv",
	FaultNoCertificate: "no-cert",
	FaultMalformedTLV:  "malformed-tlv",
	FaultGarbage:       "garbage",
	FaultSlow:          "slow",
	FaultDisconnect:    "disconnect",
}

// FaultNames lists every fault name ParseFault accepts, in Fault order.
func FaultNames() []string {
	return append([]string(nil), faultNames[:]...)
}

// ParseFault returns the Fault with the given name (as printed by String);
// the empty string means FaultNone.
func ParseFault(s string) (Fault, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "" {
		return FaultNone, nil
	}
	for i, n := range faultNames {
		if n == name {
			return Fault(i), nil
		}
	}
	return FaultNone, fmt.Errorf("parse fault %q: unknown fault (want one of %s)", s, strings.Join(faultNames[:], ", "))
}

// String returns the fault's name, for flags and logs.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}
