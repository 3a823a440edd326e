//go:build !windows

package agentd

import "syscall"

// canReexec: Linux and macOS can replace a running executable, and the
// agent can execute the new one in place.
const canReexec = true

// reexec replaces this process's image with path. Every descriptor Go
// opened is close-on-exec, so the new image starts clean: listeners,
// the port service connection and log files are all its own.
func reexec(path string, argv, env []string) error {
	return syscall.Exec(path, argv, env)
}
