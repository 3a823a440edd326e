package pcsc

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// setTimeout changes the bound on each exchange (DefaultExchangeTimeout).
func (c *Conn) setTimeout(d time.Duration) {
	c.mu.Lock()
	c.timeout = d
	c.mu.Unlock()
}

// scriptedContext hands out one scriptedCard.
type scriptedContext struct {
	fakeContext
	card     *scriptedCard
	released atomic.Bool
}

func (c *scriptedContext) Connect(string) (sysCard, error) { return c.card, nil }
func (c *scriptedContext) Release() error                  { c.released.Store(true); return nil }

// scriptedCard is a card handle that answers every command with resp. Its
// transactions nest as on pcsc-lite; ending one that is not held fails.
type scriptedCard struct {
	delay        time.Duration
	resp         []byte
	disconnected atomic.Bool
	transactions atomic.Int32 // transactions held

	resetEndsTx bool        // a reset ends the transaction, as on WinSCard
	resetErr    error       // what Reset returns
	beginErr    atomic.Bool // BeginTransaction fails with a sharing violation
	resets      atomic.Int32
	ends        atomic.Int32 // EndTransaction calls
}

func (c *scriptedCard) Transmit(cmd []byte) ([]byte, error) {
	time.Sleep(c.delay)
	return c.resp, nil
}

func (c *scriptedCard) Disconnect() error { c.disconnected.Store(true); return nil }
func (c *scriptedCard) BeginTransaction() error {
	time.Sleep(c.delay)
	if c.beginErr.Load() {
		return &Error{Op: "SCardBeginTransaction", Code: codeSharingViolation, Msg: "sharing violation", Kind: ErrCardBusy}
	}
	c.transactions.Add(1)
	return nil
}

func (c *scriptedCard) EndTransaction() error {
	c.ends.Add(1)
	if c.transactions.Load() <= 0 {
		return &Error{Op: "SCardEndTransaction", Code: codeNotTransacted, Msg: "not transacted", Kind: ErrCardUnresponsive}
	}
	c.transactions.Add(-1)
	return nil
}

func (c *scriptedCard) Reset() error {
	if c.resetErr != nil {
		return c.resetErr
	}
	c.resets.Add(1)
	if c.resetEndsTx {
		c.transactions.Store(0)
	}
	return nil
}

func TestConnTransmit(t *testing.T) {
	card := &scriptedCard{resp: []byte{0x90, 0x00}}
	sc := &scriptedContext{card: card}
	conn, err := connect(context.Background(), func() (sysContext, error) { return sc, nil }, "R0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := conn.Transmit(context.Background(), []byte{0, 0xA4, 4, 0})
	if err != nil || !bytes.Equal(got, []byte{0x90, 0}) {
		t.Fatalf("Transmit = %X, %v", got, err)
	}
	if _, err := conn.Transmit(context.Background(), []byte{0}); err == nil {
		t.Error("a 1-byte command was sent; want an error before reaching PC/SC")
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if !card.disconnected.Load() || !sc.released.Load() {
		t.Error("Close did not disconnect and release")
	}
	if _, err := conn.Transmit(context.Background(), []byte{0, 0xA4, 4, 0}); !errors.Is(err, ErrClosed) {
		t.Errorf("Transmit after Close = %v, want ErrClosed", err)
	}
}

func TestConnTransmitDeadline(t *testing.T) {
	card := &scriptedCard{delay: 300 * time.Millisecond, resp: []byte{0x90, 0x00}}
	sc := &scriptedContext{card: card}
	conn, err := connect(context.Background(), func() (sysContext, error) { return sc, nil }, "R0")
	if err != nil {
		t.Fatal(err)
	}
	conn.setTimeout(50 * time.Millisecond)
	start := time.Now()
	_, err = conn.Transmit(context.Background(), []byte{0, 0xCB, 0x3F, 0xFF})
	if !errors.Is(err, ErrCardTimeout) {
		t.Fatalf("slow card: err = %v, want ErrCardTimeout", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("Transmit returned after %v, want about 50ms", d)
	}
	if _, err := conn.Transmit(context.Background(), []byte{0, 0xCB, 0x3F, 0xFF}); !errors.Is(err, ErrClosed) {
		t.Errorf("after a timeout: err = %v, want ErrClosed", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	// The abandoned exchange cleans up once the card finally answers.
	deadline := time.Now().Add(2 * time.Second)
	for !(card.disconnected.Load() && sc.released.Load()) {
		if time.Now().After(deadline) {
			t.Fatal("abandoned exchange never released the card and context")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnTransaction(t *testing.T) {
	card := &scriptedCard{resp: []byte{0x90, 0x00}}
	conn, err := connect(context.Background(), func() (sysContext, error) { return &scriptedContext{card: card}, nil }, "R0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	inside := int32(-1)
	err = conn.Transaction(context.Background(), func() error {
		inside = card.transactions.Load()
		_, err := conn.Transmit(context.Background(), []byte{0, 0xA4, 4, 0})
		return err
	})
	if err != nil || inside != 1 || card.transactions.Load() != 0 {
		t.Errorf("Transaction: err %v, held during fn %v, held after %d", err, inside == 1, card.transactions.Load())
	}
	want := errors.New("fn failed")
	if err := conn.Transaction(context.Background(), func() error { return want }); err != want || card.transactions.Load() != 0 {
		t.Errorf("failing fn: err %v, transactions left %d", err, card.transactions.Load())
	}
	// Another program's transaction that never ends: the wait is bounded.
	card.delay = 300 * time.Millisecond
	conn.setTimeout(50 * time.Millisecond)
	called := false
	err = conn.Transaction(context.Background(), func() error { called = true; return nil })
	if !errors.Is(err, ErrCardTimeout) || called {
		t.Errorf("blocked transaction: err %v, fn called %v", err, called)
	}
}

// TestConnBeginEndTransaction: a transaction spanned over steps of the
// caller's own is held from BeginTransaction to EndTransaction, and ending
// it again, or after a Reset lost it, does nothing.
func TestConnBeginEndTransaction(t *testing.T) {
	tests := []struct {
		name     string
		resetTx  bool  // a Reset inside loses the transaction (it cannot be begun again)
		endTwice bool  // EndTransaction is called twice
		wantEnds int32 // EndTransaction calls reaching the card
	}{
		{name: "begin then end", wantEnds: 1},
		{name: "ended twice", endTwice: true, wantEnds: 1},
		{name: "lost by a reset", resetTx: true, wantEnds: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptedCard{resp: []byte{0x90, 0x00}, resetEndsTx: true}
			conn, err := connect(context.Background(), func() (sysContext, error) { return &scriptedContext{card: card}, nil }, "R0")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.BeginTransaction(context.Background()); err != nil || card.transactions.Load() != 1 {
				t.Fatalf("BeginTransaction: %v, %d held", err, card.transactions.Load())
			}
			if tt.resetTx {
				card.beginErr.Store(true)
				if err := conn.Reset(context.Background()); !errors.Is(err, ErrCardBusy) {
					t.Fatalf("Reset = %v, want the failed begin", err)
				}
			}
			if err := conn.EndTransaction(context.Background()); err != nil {
				t.Errorf("EndTransaction: %v", err)
			}
			if tt.endTwice {
				if err := conn.EndTransaction(context.Background()); err != nil {
					t.Errorf("second EndTransaction: %v", err)
				}
			}
			if held, ends := card.transactions.Load(), card.ends.Load(); held != 0 || ends != tt.wantEnds {
				t.Errorf("after: %d held, %d EndTransaction calls; want 0 and %d", held, ends, tt.wantEnds)
			}
		})
	}
}

func TestConnectDeadline(t *testing.T) {
	card := &scriptedCard{resp: []byte{0x90, 0x00}}
	sc := &scriptedContext{card: card}
	slow := func() (sysContext, error) { time.Sleep(300 * time.Millisecond); return sc, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := connect(ctx, slow, "R0"); !errors.Is(err, ErrCardTimeout) {
		t.Fatalf("connect to a service that hangs: %v, want ErrCardTimeout", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("connect gave up after %v", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !(card.disconnected.Load() && sc.released.Load()) {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned connection was never released")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnReset(t *testing.T) {
	removed := &Error{Op: "SCardReconnect", Code: codeRemovedCard, Msg: "removed", Kind: ErrNoCard}
	tests := []struct {
		name        string
		inTx        bool  // Reset is called from a Transaction's fn
		resetEndsTx bool  // the platform ends the transaction on a reset
		resetErr    error // the reset fails
		beginFails  bool  // the transaction cannot be begun again
		wantErr     error // what Reset returns (errors.Is)
		wantHeld    int32 // transactions held after Reset, inside fn
		wantEnds    int32 // EndTransaction calls in all
	}{
		{name: "outside a transaction"},
		{name: "pcsc-lite keeps the transaction", inTx: true, wantHeld: 1, wantEnds: 2},
		{name: "WinSCard ends the transaction", inTx: true, resetEndsTx: true, wantHeld: 1, wantEnds: 2},
		{name: "reset fails outside", resetErr: removed, wantErr: ErrNoCard},
		{name: "reset fails inside", inTx: true, resetErr: removed, wantErr: ErrNoCard, wantHeld: 1, wantEnds: 1},
		{name: "transaction not begun again", inTx: true, resetEndsTx: true, beginFails: true, wantErr: ErrCardBusy, wantHeld: 0, wantEnds: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptedCard{resp: []byte{0x90, 0x00}, resetEndsTx: tt.resetEndsTx, resetErr: tt.resetErr}
			conn, err := connect(context.Background(), func() (sysContext, error) { return &scriptedContext{card: card}, nil }, "R0")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var resetErr error
			held := int32(-1)
			reset := func() error {
				card.beginErr.Store(tt.beginFails)
				resetErr = conn.Reset(context.Background())
				held = card.transactions.Load()
				return resetErr
			}
			if tt.inTx {
				if err := conn.Transaction(context.Background(), reset); err != resetErr {
					t.Errorf("Transaction = %v, want fn's %v", err, resetErr)
				}
			} else {
				_ = reset()
			}
			if !errors.Is(resetErr, tt.wantErr) {
				t.Errorf("Reset = %v, want %v", resetErr, tt.wantErr)
			}
			if held != tt.wantHeld {
				t.Errorf("transactions held after Reset = %d, want %d", held, tt.wantHeld)
			}
			if got := card.transactions.Load(); got != 0 {
				t.Errorf("transactions held after all = %d, want 0", got)
			}
			if got := card.ends.Load(); got != tt.wantEnds {
				t.Errorf("EndTransaction calls = %d, want %d", got, tt.wantEnds)
			}
			wantResets := int32(1)
			if tt.resetErr != nil {
				wantResets = 0
			}
			if got := card.resets.Load(); got != wantResets {
				t.Errorf("resets = %d, want %d", got, wantResets)
			}
			// The connection is still usable.
			if tt.resetErr == nil {
				if _, err := conn.Transmit(context.Background(), []byte{0, 0xA4, 4, 0}); err != nil {
					t.Errorf("Transmit after Reset: %v", err)
				}
			}
		})
	}
}
