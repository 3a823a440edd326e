//go:build !linux && !windows && !darwin

package pcsc

// ServiceHint tells a user how to start this platform's PC/SC service.
const ServiceHint = "start the PC/SC daemon (pcscd)"
