package testutil

import (
	"net"
	"testing"
)

// FreePort finds a port nobody listens on at 127.0.0.1. It is free only
// until somebody else takes it.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
