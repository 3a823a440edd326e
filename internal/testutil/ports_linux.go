package testutil

import (
	"encoding/binary"
	"encoding/hex"
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

// reservedPortsFile lists the ports the kernel never hands out to a socket
// bound to port 0 or to an outgoing connection, though they lie in the
// ephemeral range.
const reservedPortsFile = "/proc/sys/net/ipv4/ip_local_reserved_ports"

// ReservePorts adds ports to the kernel's reserved ports (needs root), so
// that no other program's connection takes one of them between a server's
// stop and its next start. vpcd's fixed ports lie in the ephemeral range: a
// connection that took one (or its TIME_WAIT, up to 60 s after it closed)
// keeps vpcd from listening there. The reservation lasts until reboot and
// never touches a socket that holds the port already.
func ReservePorts(ports ...int) error {
	raw, err := os.ReadFile(reservedPortsFile)
	if err != nil {
		return err
	}
	list, changed, err := addReserved(strings.TrimSpace(string(raw)), ports)
	if err != nil || !changed {
		return err
	}
	if err := os.WriteFile(reservedPortsFile, []byte(list), 0o644); err != nil {
		return fmt.Errorf("reserve ports %v: %w", ports, err)
	}
	return nil
}

// addReserved returns the reserved-ports list cur (as the kernel prints it:
// "a,b-c") with ports added, and whether any was missing.
func addReserved(cur string, ports []int) (string, bool, error) {
	held := map[int]bool{}
	if cur != "" {
		for _, part := range strings.Split(cur, ",") {
			lo, hi, found := strings.Cut(part, "-")
			if !found {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || a > b {
				return "", false, fmt.Errorf("ip_local_reserved_ports: %q: want ports and ranges", cur)
			}
			for p := a; p <= b && p <= 65535; p++ {
				held[p] = true
			}
		}
	}
	list := cur
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return "", false, fmt.Errorf("reserve port %d: not a port", p)
		}
		if held[p] {
			continue
		}
		held[p] = true
		if list != "" {
			list += ","
		}
		list += strconv.Itoa(p)
	}
	return list, list != cur, nil
}

// tcpStates names the states /proc/net/tcp gives in hex.
var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
	"05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
	"09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}

// tcpSocket is one line of /proc/net/tcp or tcp6.
type tcpSocket struct {
	ipv6                 bool
	state, local, remote string // "ADDR:PORT", decoded
}

// procAddr decodes /proc/net/tcp's "0100007F:8C7B" (the address in host
// byte order, 32 bits at a time, then the port in hex) to "127.0.0.1:35963".
func procAddr(hexAddr string) string {
	a, p, ok := strings.Cut(hexAddr, ":")
	raw, err := hex.DecodeString(a)
	port, err2 := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || err2 != nil || (len(raw) != 4 && len(raw) != 16) {
		return hexAddr
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(ip[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10))
}

// socketsOn lists the TCP sockets (IPv4 and IPv6) whose local port is port.
func socketsOn(port int) []tcpSocket {
	var out []tcpSocket
	want := fmt.Sprintf(":%04X", port)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], want) {
				state := tcpStates[f[3]]
				if state == "" {
					state = "state " + f[3]
				}
				out = append(out, tcpSocket{ipv6: strings.HasSuffix(file, "6"), state: state, local: procAddr(f[1]), remote: procAddr(f[2])})
			}
		}
	}
	return out
}

// PortHolders describes the TCP sockets whose local port is port, one
// "STATE local -> remote" each, for an error that says why a server could
// not listen there.
func PortHolders(port int) []string {
	var out []string
	for _, s := range socketsOn(port) {
		out = append(out, s.state+" "+s.local+" -> "+s.remote)
	}
	return out
}

// Listening reports whether an IPv4 TCP socket listens on port, from
// /proc/net/tcp, without connecting to it (a connection to vpcd is a card).
func Listening(port int) bool {
	for _, s := range socketsOn(port) {
		if !s.ipv6 && s.state == "LISTEN" {
			return true
		}
	}
	return false
}
