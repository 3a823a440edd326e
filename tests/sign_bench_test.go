//go:build linux && cgo

package tests

import (
	"context"
	"crypto"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// rawCard is the least a program can do to talk to a card: ebfe/scard's
// Transmit, with no deadline and no bookkeeping.
type rawCard struct{ c *scard.Card }

func (r rawCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return r.c.Transmit(cmd) }

// rawSign runs the APDUs of one signing session straight on the card:
// connect, transaction, SELECT, PIN reset, retries, VERIFY, GENERAL
// AUTHENTICATE, PIN reset, disconnect.
func rawSign(b *testing.B, ctx *scard.Context, digest []byte) {
	c, err := ctx.Connect(reader0, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(scard.LeaveCard)
	if err := c.BeginTransaction(); err != nil {
		b.Fatal(err)
	}
	defer c.EndTransaction(scard.LeaveCard)
	card := rawCard{c}
	bg := context.Background()
	if err := piv.SelectPIV(bg, card); err != nil {
		b.Fatal(err)
	}
	_ = piv.ResetPINStatus(bg, card)
	if _, _, err := piv.PINRetries(bg, card); err != nil {
		b.Fatal(err)
	}
	if err := piv.VerifyPIN(bg, card, []byte("123456")); err != nil {
		b.Fatal(err)
	}
	block, _ := piv.PKCS1v15Pad(crypto.SHA256, digest, 256)
	if _, err := piv.GeneralAuthenticate(bg, card, piv.AlgRSA2048, piv.SlotAuthentication, block); err != nil {
		b.Fatal(err)
	}
	_ = piv.ResetPINStatus(bg, card)
}

// BenchmarkSignOverhead measures the agent's signing session (OpenSigner,
// a Web eID token and Close: connection, transaction, PIN reset, VERIFY,
// GENERAL AUTHENTICATE, token) with the PIN prompt's own time taken out,
// against the same APDUs sent straight through ebfe/scard, alternating in
// the same run. The difference is the agent's overhead beyond the card's own
// APDU time. Target: at most 10 ms median. Run with -benchtime=30x.
func BenchmarkSignOverhead(b *testing.B) {
	needPCSCD(b)
	var prompt time.Duration // the PIN prompt's own time in this round
	ask := func(context.Context, agent.PINRequest) ([]byte, error) {
		p0 := time.Now()
		defer func() { prompt += time.Since(p0) }()
		return []byte("123456"), nil
	}
	core := agent.New(agent.Options{Monitor: pcsc.NewMonitor(pcsc.MonitorOptions{}), PINPrompt: ask})
	_, sub := core.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = core.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	c, _, _ := newCard(b, testCard{uuid: "555000000096"})
	insert(b, c, 0)
	waitUpdated(b, sub)
	sctx, err := scard.EstablishContext()
	if err != nil {
		b.Fatal(err)
	}
	defer sctx.Release()

	digest := sha256.Sum256([]byte("benchmark"))
	var agentTimes, rawTimes, overheads []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		rawSign(b, sctx, digest[:])
		raw := time.Since(t0)

		prompt = 0
		t1 := time.Now()
		_, err := signToken(core, nil) // answered by ask
		if err != nil {
			b.Fatal(err)
		}
		ag := time.Since(t1) - prompt
		agentTimes, rawTimes, overheads = append(agentTimes, ag), append(rawTimes, raw), append(overheads, ag-raw)
	}
	b.StopTimer()
	b.ReportMetric(ms(median(agentTimes)), "agent-median-ms")
	b.ReportMetric(ms(median(rawTimes)), "apdu-median-ms")
	b.ReportMetric(ms(median(overheads)), "overhead-median-ms")
	b.ReportMetric(ms(slices.Max(overheads)), "overhead-max-ms")
}

// waitUpdated waits for a card-updated event.
func waitUpdated(b *testing.B, sub *agent.Subscription) {
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Type == agent.TypeCardUpdated {
				return
			}
		case <-deadline:
			b.Fatal("the card was not identified within 15s")
		}
	}
}
