package testutil

import (
	"net"
	"strconv"
	"testing"
)

func TestParsePortRange(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"32768\t60999\n", 32768, 60999, true},
		{"1024 65535", 1024, 65535, true},
		{"60999 32768", 0, 0, false},
		{"32768", 0, 0, false},
		{"a b", 0, 0, false},
		{"0 100", 0, 0, false},
		{"1 70000", 0, 0, false},
	} {
		lo, hi, err := parsePortRange(c.in)
		if (err == nil) != c.ok || lo != c.lo || hi != c.hi {
			t.Errorf("parsePortRange(%q) = %d, %d, %v; want %d, %d, ok %v", c.in, lo, hi, err, c.lo, c.hi, c.ok)
		}
	}
}

func TestQuietPortsSkipsABoundPort(t *testing.T) {
	lo := QuietPorts(t, 20000, 4)
	ephLo, _ := EphemeralPorts(t)
	if lo < 20000 || lo+3 >= ephLo {
		t.Fatalf("QuietPorts gave %d-%d; want within 20000-%d", lo, lo+3, ephLo-1)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(lo+2))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if again := QuietPorts(t, lo, 4); again <= lo+2 {
		t.Fatalf("QuietPorts gave %d-%d, which holds the bound port %d", again, again+3, lo+2)
	}
}
