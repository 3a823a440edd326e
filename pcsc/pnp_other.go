//go:build !darwin

package pcsc

import "time"

// pcsc-lite on Linux and WinSCard signal reader hot-plug through the PnP
// pseudo-reader, so the monitor waits without a timeout.
const (
	pnpSupported = true
	pollInterval = time.Duration(-1)
)
