//go:build !windows

package logging

// openEventLog: only Windows has an event log; elsewhere the program's
// file (and the journal, under systemd) is the log.
func openEventLog(string) (eventSink, error) { return nil, nil }
