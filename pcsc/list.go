package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
)

// Readers asks the PC/SC service once for every reader and whether it holds
// a card, on a context of its own. It fails with ErrUnavailable when the
// service is not running, and returns ctx's error if the service does not
// answer before ctx ends.
func Readers(ctx context.Context) ([]Reader, error) {
	return readers(ctx, establish)
}

func readers(ctx context.Context, est establishFunc) ([]Reader, error) {
	type result struct {
		r   []Reader
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := readersNow(est)
		done <- result{r, err}
	}()
	select {
	case r := <-done:
		return r.r, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("list readers: %w", ctx.Err())
	}
}

func readersNow(est establishFunc) ([]Reader, error) {
	c, err := est()
	if err != nil {
		return nil, fmt.Errorf("list readers: %w", err)
	}
	defer c.Release()
	names, err := c.ListReaders()
	if err != nil {
		return nil, fmt.Errorf("list readers: %w", err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == pnpReader })
	if len(names) == 0 {
		return []Reader{}, nil
	}
	slices.Sort(names)
	states := make([]readerState, len(names))
	for i, n := range names {
		states[i] = readerState{Reader: n, Current: stateUnaware}
	}
	if err := c.GetStatusChange(states, 0); err != nil && !errors.Is(err, errTimeout) {
		return nil, fmt.Errorf("read reader states: %w", err)
	}
	out := make([]Reader, 0, len(states))
	for _, st := range states {
		if st.Event&(stateUnknown|stateIgnore) != 0 {
			continue // unplugged since the listing
		}
		r := Reader{Name: st.Reader, CardPresent: st.Event&statePresent != 0}
		if r.CardPresent {
			r.ATR = bytes.Clone(st.ATR)
		}
		out = append(out, r)
	}
	return out, nil
}
