package peercred

import (
	"net/netip"
	"testing"
)

// TestBoundRows checks which socket table rows count as sockets bound to a port
// of the range, on Linux's /proc lines and Windows' table rows alike.
func TestBoundRows(t *testing.T) {
	ap := netip.MustParseAddrPort
	cases := []struct {
		name  string
		local netip.AddrPort
		proc  uint8 // Linux state
		table uint32
		pid   uint32 // Windows owner; Linux inode when not zero
		want  bool
	}{
		{"listener on 127.0.0.1", ap("127.0.0.1:57000"), tcpListen, mibTCPStateListen, 7, true},
		{"established client on 127.0.0.1", ap("127.0.0.1:57000"), tcpEstablished, mibTCPStateEstab, 7, true},
		{"connecting client on [::1]", ap("[::1]:57005"), tcpSynSent, mibTCPStateSynSent, 7, true},
		{"client on the IPv4 wildcard", ap("0.0.0.0:57000"), tcpEstablished, mibTCPStateEstab, 7, true},
		{"dual-stack client", ap("[::ffff:127.0.0.1]:57000"), tcpCloseWait, mibTCPStateCloseWait, 7, true},
		{"TIME_WAIT has no owner", ap("127.0.0.1:57000"), tcpTimeWait, mibTCPStateTimeWait, 0, false},
		{"orphan has no owner", ap("127.0.0.1:57000"), tcpFinWait2, mibTCPStateFinWait2, 0, false},
		{"below the range", ap("127.0.0.1:56999"), tcpEstablished, mibTCPStateEstab, 7, false},
		{"above the range", ap("127.0.0.1:57010"), tcpEstablished, mibTCPStateEstab, 7, false},
		{"another loopback address", ap("127.0.0.2:57000"), tcpEstablished, mibTCPStateEstab, 7, false},
		{"an outside address", ap("192.0.2.1:57000"), tcpEstablished, mibTCPStateEstab, 7, false},
	}
	for _, c := range cases {
		if got := procBound(procEntry{local: c.local, state: c.proc, inode: uint64(c.pid)}, 57000, 57009); got != c.want {
			t.Errorf("%s: procBound = %v, want %v", c.name, got, c.want)
		}
		if got := tableBound(tcpRow{local: c.local, state: c.table, pid: c.pid}, 57000, 57009); got != c.want {
			t.Errorf("%s: tableBound = %v, want %v", c.name, got, c.want)
		}
	}
}
