package agent

import (
	"context"
	"errors"
	"testing"

	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// TestOpenSignerRefusesBeforeTheCard: the signing sessions refused before
// any PC/SC call, and that each leaves no session counted.
func TestOpenSignerRefusesBeforeTheCard(t *testing.T) {
	ask := func(context.Context, PINRequest) ([]byte, error) {
		t.Error("the PIN prompt was asked")
		return nil, cardinfo.ErrPINCancelled
	}
	cases := []struct {
		name    string
		prompt  PINPrompt
		stopped bool         // StopSigning was called
		events  []pcsc.Event // applied first
		want    error        // errors.Is
	}{
		{name: "no PIN prompt", want: ErrNoPINPrompt},
		{name: "the agent is restarting", prompt: ask, stopped: true, want: cardinfo.ErrBusy},
		{name: "no card", prompt: ask, events: []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R0"}}, want: pcsc.ErrNoCard},
		{name: "card without an identity", prompt: ask, events: []pcsc.Event{{Type: pcsc.Available}, {Type: pcsc.ReaderAdded, Reader: "R9"},
			{Type: pcsc.CardInserted, Reader: "R9", ATR: []byte{1}}}, want: piv.ErrUnsupportedCard},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeReads{release: make(chan struct{})}
			close(f.release) // R9's read fails at once
			c := New(Options{ReadIdentity: f.read, PINPrompt: tc.prompt})
			for _, ev := range tc.events {
				c.Apply(ev)
			}
			c.Card(context.Background()) // the identity read is over
			if tc.stopped && !c.StopSigning() {
				t.Fatal("StopSigning refused with no session")
			}
			s, err := c.OpenSigner(context.Background(), "https://my.esr.nhs.uk")
			if s != nil || !errors.Is(err, tc.want) {
				t.Fatalf("OpenSigner = %v, %v; want %v", s, err, tc.want)
			}
			if !c.StopSigning() {
				t.Error("a refused session is still counted: StopSigning refuses")
			}
		})
	}
}
