//go:build !cgo && !windows

package pcsc

import "fmt"

// establish always fails: on Unix the PC/SC library is reached through cgo,
// and this binary was built without it.
func establish() (sysContext, error) {
	return nil, fmt.Errorf("this build of cardbridge has no PC/SC support (built without cgo): %w", ErrUnavailable)
}
