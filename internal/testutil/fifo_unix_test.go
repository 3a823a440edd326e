//go:build unix

package testutil

// hasFifos: Unix file systems have named pipes.
const hasFifos = true
