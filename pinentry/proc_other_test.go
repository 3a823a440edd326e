//go:build !unix

package pinentry

import "os"

// processExists reports whether pid is a process that can still be opened.
func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
