package pcsc

import "time"

// The PC/SC API as this package uses it. The real implementation wraps
// github.com/ebfe/scard (scard.go); unit tests substitute a fake.

// State flags of SCARD_READERSTATE, identical on pcsc-lite and WinSCard.
// The high 16 bits of an event state count the reader's card events.
const (
	stateUnaware     uint32 = 0x0000
	stateIgnore      uint32 = 0x0001
	stateChanged     uint32 = 0x0002
	stateUnknown     uint32 = 0x0004
	stateUnavailable uint32 = 0x0008
	stateEmpty       uint32 = 0x0010
	statePresent     uint32 = 0x0020
	stateMute        uint32 = 0x0200
)

// pnpReader is the pseudo-reader whose state changes when readers come and go.
const pnpReader = `\\?PnP?\Notification`

// readerState is one entry of a GetStatusChange call.
type readerState struct {
	Reader  string
	Current uint32 // what the caller believes
	Event   uint32 // what the service reports
	ATR     []byte
}

// sysContext is one PC/SC context. Only Cancel may be called from another
// goroutine while a call is in progress.
type sysContext interface {
	ListReaders() ([]string, error)
	// GetStatusChange blocks until a state differs from Current or timeout
	// passes (negative: forever); it fills in Event and ATR.
	GetStatusChange(states []readerState, timeout time.Duration) error
	Cancel() error
	Release() error
	Connect(reader string) (sysCard, error)
}

// sysCard is a connected card handle.
type sysCard interface {
	Transmit(cmd []byte) ([]byte, error)
	BeginTransaction() error
	EndTransaction() error // leaving the card as it is
	// Reset warm-resets the card: SCardReconnect in shared mode, T=0 or
	// T=1, with SCARD_RESET_CARD. The handle stays usable.
	Reset() error
	Disconnect() error
}

// establishFunc opens a new PC/SC context.
type establishFunc func() (sysContext, error)
