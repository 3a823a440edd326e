package testutil

import "context"

// Transmitter lets code that talks to a card with a context (package piv)
// talk to one whose Transmit takes none, such as a virtual card: it ignores
// the context.
type Transmitter struct {
	Card interface {
		Transmit(cmd []byte) ([]byte, error)
	}
}

// Transmit sends cmd to the card and returns its answer.
func (t Transmitter) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	return t.Card.Transmit(cmd)
}
