//go:build !unix

package testutil

// hasFifos: this file system has no named pipes.
const hasFifos = false
