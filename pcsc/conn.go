package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultExchangeTimeout bounds one APDU exchange when the caller's context
// has no earlier deadline. Real cards answer in milliseconds; RSA signing on
// old cards takes up to a second or two.
const DefaultExchangeTimeout = 10 * time.Second

// Conn is one card opened for APDU exchanges, on a PC/SC context of its own
// (never the Monitor's). Its methods may be called from several goroutines;
// exchanges are serialised.
type Conn struct {
	reader  string
	timeout time.Duration

	mu     sync.Mutex // held for the duration of an exchange
	ctx    sysContext
	card   sysCard
	broken error // set when an exchange was abandoned; the conn is unusable
	closed bool
	inTx   bool          // Transaction holds the card
	busy   chan struct{} // closed when an abandoned exchange finally returns
}

// Connect opens the card in reader in shared mode.
func Connect(ctx context.Context, reader string) (*Conn, error) {
	return connect(ctx, establish, reader)
}

func connect(ctx context.Context, est establishFunc, reader string) (*Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		c    sysContext
		card sysCard
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := est()
		if err != nil {
			done <- result{err: err}
			return
		}
		card, err := c.Connect(reader)
		if err != nil {
			_ = c.Release()
			done <- result{err: err}
			return
		}
		done <- result{c: c, card: card}
	}()
	ctx, cancel := context.WithTimeout(ctx, DefaultExchangeTimeout)
	defer cancel()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("open card in %q: %w", reader, r.err)
		}
		return &Conn{reader: reader, timeout: DefaultExchangeTimeout, ctx: r.c, card: r.card}, nil
	case <-ctx.Done():
	}
	// SCardConnect cannot be interrupted (it waits, for example, while
	// another program holds the card in a transaction). Clean up whenever
	// it returns.
	go func() {
		if r := <-done; r.err == nil {
			_ = r.card.Disconnect()
			_ = r.c.Release()
		}
	}()
	err := ErrCardTimeout
	if errors.Is(ctx.Err(), context.Canceled) {
		err = context.Canceled
	}
	return nil, fmt.Errorf("open card in %q: %w", reader, err)
}

// Reader names the reader the card is in.
func (c *Conn) Reader() string { return c.reader }

// Transmit sends one command APDU and returns the card's response. It gives
// up with ErrCardTimeout when the card has not answered by ctx's deadline or
// the exchange timeout, whichever is first; the connection is then broken
// and further calls fail with ErrClosed.
func (c *Conn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) < 4 {
		return nil, fmt.Errorf("transmit to %q: command APDU of %d bytes is too short", c.reader, len(cmd))
	}
	// The PC/SC call gets its own copy: if it is abandoned, the caller may
	// reuse or wipe cmd (a VERIFY holds the PIN) while it still runs.
	own := bytes.Clone(cmd)
	return c.call(ctx, "transmit to", func(card sysCard) ([]byte, error) {
		defer clear(own)
		return card.Transmit(own)
	})
}

// Transaction runs fn while holding a PC/SC transaction on the card, so
// that no other program's commands come between fn's (a chained GET DATA,
// VERIFY then sign). Waiting for another program's transaction counts
// against ctx and the exchange timeout like an exchange.
func (c *Conn) Transaction(ctx context.Context, fn func() error) error {
	if err := c.BeginTransaction(ctx); err != nil {
		return err
	}
	ferr := fn()
	err := c.EndTransaction(ctx)
	if ferr != nil {
		return ferr
	}
	return err
}

// BeginTransaction begins a PC/SC transaction on the card, as Transaction
// does, for a caller that spans one over several steps of its own; it must
// call EndTransaction.
func (c *Conn) BeginTransaction(ctx context.Context) error {
	if _, err := c.call(ctx, "begin transaction on", func(card sysCard) ([]byte, error) {
		return nil, card.BeginTransaction()
	}); err != nil {
		return err
	}
	c.setInTx(true)
	return nil
}

// EndTransaction ends the transaction BeginTransaction began. It does
// nothing when a Reset lost the transaction, or when none is held, and a
// card that has left meanwhile is no error.
func (c *Conn) EndTransaction(ctx context.Context) error {
	if !c.setInTx(false) {
		return nil
	}
	_, err := c.call(ctx, "end transaction on", func(card sysCard) ([]byte, error) {
		return nil, card.EndTransaction()
	})
	if errors.Is(err, ErrNoCard) {
		return nil // the card left afterwards
	}
	return err
}

// setInTx records whether Transaction holds the card and returns what was
// recorded before.
func (c *Conn) setInTx(held bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.inTx
	c.inTx = held
	return was
}

// Reset warm-resets the card (SCardReconnect with SCARD_RESET_CARD). The
// card forgets every security state, a verified PIN included, and has no
// application selected; it keeps its place in the reader and its ATR, so a
// Monitor reports no event. Other programs' handles on the card get
// SCARD_W_RESET_CARD until they reconnect. It is bounded like an exchange.
//
// Called inside a transaction (Transaction's fn, or between
// BeginTransaction and EndTransaction), it resets the card while the
// transaction holds it, then ends the transaction and begins it again:
// WinSCard ends a transaction when its card is reset, while pcsc-lite keeps
// it and would nest a second one. Another program may use the card in
// between, so the caller checks again whatever it relies on. If the
// transaction cannot be begun again, Reset returns that error and nothing
// is ended.
func (c *Conn) Reset(ctx context.Context) error {
	if _, err := c.call(ctx, "reset card in", func(card sysCard) ([]byte, error) {
		return nil, card.Reset()
	}); err != nil {
		return err
	}
	c.mu.Lock()
	inTx := c.inTx
	c.mu.Unlock()
	if !inTx {
		return nil
	}
	_, err := c.call(ctx, "end transaction on", func(card sysCard) ([]byte, error) {
		// Fails where the reset has ended the transaction already; the
		// next call shows whether the handle still works.
		_ = card.EndTransaction()
		return nil, nil
	})
	if err == nil {
		_, err = c.call(ctx, "begin transaction on", func(card sysCard) ([]byte, error) {
			return nil, card.BeginTransaction()
		})
	}
	if err != nil {
		c.setInTx(false)
		return err
	}
	return nil
}

// call runs one PC/SC call on the card under c's lock, bounded by ctx and
// the exchange timeout.
func (c *Conn) call(ctx context.Context, what string, fn func(sysCard) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%s %q: %w", what, c.reader, ErrClosed)
	}
	if c.broken != nil {
		return nil, fmt.Errorf("%s %q: %w (%v)", what, c.reader, ErrClosed, c.broken)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	type result struct {
		resp []byte
		err  error
	}
	done := make(chan result, 1)
	card := c.card
	go func() {
		r, err := fn(card)
		done <- result{r, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, c.reader, r.err)
		}
		return r.resp, nil
	case <-ctx.Done():
	}
	// The PC/SC call cannot be interrupted. Leave it to finish on its own
	// goroutine, which then releases the handle and context; the caller
	// gets its answer now.
	err := ErrCardTimeout
	if errors.Is(ctx.Err(), context.Canceled) {
		err = context.Canceled
	}
	c.broken = err
	busy := make(chan struct{})
	c.busy = busy
	sc := c.ctx
	go func() {
		<-done
		_ = card.Disconnect()
		_ = sc.Release()
		close(busy)
	}()
	return nil, fmt.Errorf("%s %q: %w", what, c.reader, err)
}

// Close disconnects the card, leaving it powered for other programs, and
// releases the context. It does not wait for an abandoned exchange.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.busy != nil {
		return nil // the abandoned exchange's goroutine cleans up
	}
	err := c.card.Disconnect()
	if rerr := c.ctx.Release(); err == nil {
		err = rerr
	}
	if errors.Is(err, ErrNoCard) || errors.Is(err, ErrUnavailable) {
		err = nil // nothing left to release
	}
	return err
}
