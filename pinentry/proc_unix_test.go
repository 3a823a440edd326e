//go:build unix

package pinentry

import (
	"errors"
	"syscall"
)

// processExists reports whether pid is a process, running or a zombie not
// yet reaped.
func processExists(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
