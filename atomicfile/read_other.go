//go:build !unix && !windows

package atomicfile

import "os"

// openRegular opens path for reading; on these systems ReadRegular relies on
// its Lstat and Stat checks alone.
func openRegular(path string) (*os.File, error) {
	return os.Open(path)
}
