//go:build cgo || windows

package pcsc

import (
	"errors"
	"time"

	"github.com/ebfe/scard"
)

// establish opens a PC/SC context through github.com/ebfe/scard.
func establish() (sysContext, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, wrapErr("SCardEstablishContext", err)
	}
	return &scardContext{c: c}, nil
}

type scardContext struct{ c *scard.Context }

func (s *scardContext) ListReaders() ([]string, error) {
	r, err := s.c.ListReaders()
	if err != nil {
		var se scard.Error
		if errors.As(err, &se) && uint32(se) == codeNoReadersAvailable {
			return nil, nil // no readers is an empty list, not a failure
		}
		return nil, wrapErr("SCardListReaders", err)
	}
	return r, nil
}

func (s *scardContext) GetStatusChange(states []readerState, timeout time.Duration) error {
	if len(states) == 0 {
		return errors.New("GetStatusChange: no reader states") // scard panics on an empty slice
	}
	rs := make([]scard.ReaderState, len(states))
	for i := range states {
		rs[i] = scard.ReaderState{Reader: states[i].Reader, CurrentState: scard.StateFlag(states[i].Current)}
	}
	if err := s.c.GetStatusChange(rs, timeout); err != nil {
		return wrapErr("SCardGetStatusChange", err)
	}
	for i := range states {
		states[i].Event = uint32(rs[i].EventState)
		states[i].ATR = rs[i].Atr
	}
	return nil
}

func (s *scardContext) Cancel() error  { return wrapErr("SCardCancel", s.c.Cancel()) }
func (s *scardContext) Release() error { return wrapErr("SCardReleaseContext", s.c.Release()) }

func (s *scardContext) Connect(reader string) (sysCard, error) {
	c, err := s.c.Connect(reader, scard.ShareShared, scard.ProtocolT0|scard.ProtocolT1)
	if err != nil {
		return nil, wrapErr("SCardConnect", err)
	}
	return scardCard{c}, nil
}

type scardCard struct{ c *scard.Card }

func (s scardCard) Transmit(cmd []byte) ([]byte, error) {
	if len(cmd) == 0 {
		return nil, errors.New("SCardTransmit: empty command") // scard panics on it
	}
	r, err := s.c.Transmit(cmd)
	return r, wrapErr("SCardTransmit", err)
}

func (s scardCard) BeginTransaction() error {
	return wrapErr("SCardBeginTransaction", s.c.BeginTransaction())
}

func (s scardCard) EndTransaction() error {
	return wrapErr("SCardEndTransaction", s.c.EndTransaction(scard.LeaveCard))
}

func (s scardCard) Reset() error {
	return wrapErr("SCardReconnect", s.c.Reconnect(scard.ShareShared, scard.ProtocolT0|scard.ProtocolT1, scard.ResetCard))
}

func (s scardCard) Disconnect() error {
	return wrapErr("SCardDisconnect", s.c.Disconnect(scard.LeaveCard))
}

// wrapErr turns a scard status code into an *Error that names the call.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se scard.Error
	if !errors.As(err, &se) {
		return &Error{Op: op, Msg: err.Error()}
	}
	return &Error{Op: op, Code: uint32(se), Msg: se.Error(), Kind: classify(uint32(se))}
}
