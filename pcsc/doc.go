// Package pcsc is cardbridge's window onto the platform's PC/SC service
// (pcsc-lite's pcscd on Linux and macOS, WinSCard on Windows).
//
// It offers two things, each on its own PC/SC context as pcsc-lite requires:
//
//   - Monitor watches readers and cards and publishes a stream of events
//     (reader added or removed, card inserted or removed with its ATR, PC/SC
//     service unavailable or available again) to any number of subscribers.
//     It survives the service being stopped and restarted.
//   - Connect opens one card for APDU exchanges, each bounded by a deadline,
//     so that a slow or hostile card can never hang its caller.
//
// Builds without cgo on Unix have no PC/SC library; there every call reports
// ErrUnavailable.
package pcsc
