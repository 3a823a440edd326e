package pcsc

import "time"

// macOS has no PnP pseudo-reader: the monitor polls the reader list.
const (
	pnpSupported = false
	pollInterval = time.Second
)
