//go:build unix

package peercred

import (
	"errors"
	"syscall"
)

// ProcessExists reports whether a process with this id runs: signal 0
// checks it without touching it, and EPERM (another user's process)
// still says it runs.
func ProcessExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
