//go:build !windows

package logging

// hasEventLog: no event log here.
const hasEventLog = false
