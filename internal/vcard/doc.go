// Package vcard is a virtual PIV smart card for tests, benchmarks and demos.
//
// A Card connects to vsmartcard's vpcd reader driver running inside a real
// pcscd, so the product under test talks to it through the ordinary PC/SC
// stack exactly as it would to a physical NHS smartcard. It is not a secure
// token: keys live in memory and nothing is constant-time.
//
// The vpcd protocol is simple. The card dials the reader's TCP port (35963 for
// "Virtual PCD 00 00", 35964 for "Virtual PCD 00 01"); the card counts as
// inserted while the connection is open and removed when it closes. Every
// message in either direction is a 2-byte big-endian length followed by that
// many bytes of payload. A 1-byte payload from vpcd is a control code: 0 power
// off, 1 power on and 2 reset (none of which is answered), and 4 "send your
// ATR", which vpcd also uses to poll for presence. Any longer payload is a
// command APDU and is answered with a response APDU (data followed by SW1 SW2).
//
// The card implements the subset of NIST SP 800-73-4 the product uses: SELECT
// of the PIV application, GET DATA of the PIV authentication certificate
// (object 5FC105) and, on a card given one, the digital signature
// certificate (5FC10A) with 61xx response chaining, VERIFY of the application
// PIN, and GENERAL AUTHENTICATE with the slot 9A key, or the slot 9C key
// (RSA-2048 or ECC P-256), with command chaining. Config.Fault makes it misbehave in the ways real cards and
// readers do, so that callers' error handling can be tested.
package vcard
