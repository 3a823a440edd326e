package testutil

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// EphemeralPorts is the kernel's range of ports for sockets bound to port 0
// (/proc/sys/net/ipv4/ip_local_port_range): any connection on the machine
// may take one of them at any moment.
func EphemeralPorts(t testing.TB) (lo, hi int) {
	t.Helper()
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, err = parsePortRange(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	return lo, hi
}

func parsePortRange(s string) (lo, hi int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("ip_local_port_range: %q: want two ports", s)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo < 1 || lo > hi || hi > 65535 {
		return 0, 0, fmt.Errorf("ip_local_port_range: %q: want LO HI", s)
	}
	return lo, hi, nil
}

// QuietPorts finds n consecutive ports at or above from, below the
// ephemeral range, that nobody listens on or is bound to at 127.0.0.1 now.
// Unlike FreePort's, such a port is not handed out by the kernel to
// another test's connection a moment later, so a test may bind all of them
// itself.
func QuietPorts(t testing.TB, from, n int) int {
	t.Helper()
	ephLo, _ := EphemeralPorts(t)
	for lo := from; lo+n-1 < ephLo; lo += n {
		if portsBindable(lo, n) {
			return lo
		}
	}
	t.Fatalf("no %d free ports in a row between %d and the ephemeral range (from %d)", n, from, ephLo)
	return 0
}

func portsBindable(lo, n int) bool {
	for p := lo; p < lo+n; p++ {
		ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
