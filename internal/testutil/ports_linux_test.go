package testutil

import (
	"net"
	"strconv"
	"strings"
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

func TestAddReserved(t *testing.T) {
	for _, c := range []struct {
		cur     string
		ports   []int
		want    string
		changed bool
		ok      bool
	}{
		{"", []int{35963, 35964}, "35963,35964", true, true},
		{"35963-35964", []int{35963, 35964}, "35963-35964", false, true},
		{"8080,35960-35970", []int{35963, 35983}, "8080,35960-35970,35983", true, true},
		{"35964", []int{35963, 35964}, "35964,35963", true, true},
		{"a-b", []int{1}, "", false, false},
		{"9-5", []int{1}, "", false, false},
		{"", []int{0}, "", false, false},
		{"", []int{65536}, "", false, false},
	} {
		got, changed, err := addReserved(c.cur, c.ports)
		if (err == nil) != c.ok || got != c.want || changed != c.changed {
			t.Errorf("addReserved(%q, %v) = %q, %v, %v; want %q, %v, ok %v", c.cur, c.ports, got, changed, err, c.want, c.changed, c.ok)
		}
	}
}

// TestPortHolders reads the kernel's own table: a listener, then the
// TIME_WAIT a closed connection leaves on the side that closed first.
func TestPortHolders(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if !Listening(port) {
		t.Fatalf("Listening(%d) = false for a listener; holders %v", port, PortHolders(port))
	}
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	s.Close() // the server's side closes first: TIME_WAIT on the listener's port
	buf := make([]byte, 1)
	_, _ = c.Read(buf)
	c.Close()
	if Listening(port) {
		t.Fatalf("Listening(%d) = true after the listener closed", port)
	}
	holders := PortHolders(port)
	for _, h := range holders {
		if strings.HasPrefix(h, "TIME_WAIT ") {
			return
		}
	}
	t.Fatalf("PortHolders(%d) = %q; want a TIME_WAIT socket", port, holders)
}

func TestProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:8C7B":                         "127.0.0.1:35963",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:1F90": "[::1]:8080",
		"0000000000000000FFFF00000100007F:8C7B": "127.0.0.1:35963",
		"zz:1":                                  "zz:1",
		"0100007F":                              "0100007F",
	} {
		if got := procAddr(in); got != want {
			t.Errorf("procAddr(%q) = %q; want %q", in, got, want)
		}
	}
}
