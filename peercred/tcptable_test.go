package peercred

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// row4 builds a MIB_TCPROW_OWNER_PID as Windows lays it out in memory.
func row4(state uint32, local, remote string, pid uint32) []byte {
	l, r := netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
	b := make([]byte, 24)
	le := binary.LittleEndian
	le.PutUint32(b[0:], state)
	la, ra := l.Addr().As4(), r.Addr().As4()
	copy(b[4:], la[:])
	putTablePort(b[8:], l.Port())
	copy(b[12:], ra[:])
	putTablePort(b[16:], r.Port())
	le.PutUint32(b[20:], pid)
	return b
}

// row6 builds a MIB_TCP6ROW_OWNER_PID: 56 bytes, whatever tcpRowSize6 says.
func row6(state uint32, local, remote string, pid uint32) []byte {
	l, r := netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
	b := make([]byte, 56)
	le := binary.LittleEndian
	la, ra := l.Addr().As16(), r.Addr().As16()
	copy(b[0:], la[:])
	le.PutUint32(b[16:], 1) // scope id, ignored
	putTablePort(b[20:], l.Port())
	copy(b[24:], ra[:])
	le.PutUint32(b[40:], 1)
	putTablePort(b[44:], r.Port())
	le.PutUint32(b[48:], state)
	le.PutUint32(b[52:], pid)
	return b
}

// putTablePort stores a port as Windows does: the DWORD's value is htons(port), so
// on a little-endian machine its first two bytes are the port, big-endian, and the
// other two are zero.
func putTablePort(b []byte, port uint16) {
	binary.LittleEndian.PutUint32(b, uint32(port>>8|port<<8))
}

// table prefixes rows with a dwNumEntries header of n.
func table(n uint32, rows ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, n)
	for _, r := range rows {
		b = append(b, r...)
	}
	return b
}

func TestTCPRowSizes(t *testing.T) {
	// sizeof(MIB_TCPROW_OWNER_PID) and sizeof(MIB_TCP6ROW_OWNER_PID) in the
	// Windows SDK: rows are packed back to back at these strides.
	if tcpRowSize4 != 24 || tcpRowSize6 != 56 {
		t.Errorf("row sizes %d and %d, want 24 and 56", tcpRowSize4, tcpRowSize6)
	}
}

func TestParseTCPTable(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name string
		v6   bool
		buf  []byte
		want []tcpRow
	}{
		{"v4", false, table(3,
			row4(mibTCPStateListen, "127.0.0.1:43487", "0.0.0.0:0", 1234),
			row4(mibTCPStateEstab, "127.0.0.1:55012", "127.0.0.1:50123", 4321),
			row4(mibTCPStateTimeWait, "127.0.0.1:50999", "127.0.0.1:443", 0),
		), []tcpRow{
			{ap("127.0.0.1:43487"), ap("0.0.0.0:0"), mibTCPStateListen, 1234},
			{ap("127.0.0.1:55012"), ap("127.0.0.1:50123"), mibTCPStateEstab, 4321},
			{ap("127.0.0.1:50999"), ap("127.0.0.1:443"), mibTCPStateTimeWait, 0},
		}},
		{"v6", true, table(2,
			row6(mibTCPStateListen, "[::]:8080", "[::]:0", 99),
			row6(mibTCPStateEstab, "[::ffff:127.0.0.1]:8080", "[::ffff:127.0.0.1]:61000", 100),
		), []tcpRow{
			{ap("[::]:8080"), ap("[::]:0"), mibTCPStateListen, 99},
			{ap("[::ffff:127.0.0.1]:8080"), ap("[::ffff:127.0.0.1]:61000"), mibTCPStateEstab, 100},
		}},
		{"empty", false, table(0), []tcpRow{}},
		{"slack after rows ignored", false, append(table(1, row4(mibTCPStateEstab, "127.0.0.1:1", "127.0.0.1:2", 7)), make([]byte, 100)...), []tcpRow{
			{ap("127.0.0.1:1"), ap("127.0.0.1:2"), mibTCPStateEstab, 7},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTCPTable(tc.buf, tc.v6)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("row %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseTCPTableTruncated(t *testing.T) {
	full4 := table(2, row4(mibTCPStateEstab, "127.0.0.1:1", "127.0.0.1:2", 7), row4(mibTCPStateEstab, "127.0.0.1:3", "127.0.0.1:4", 8))
	full6 := table(1, row6(mibTCPStateEstab, "[::1]:1", "[::1]:2", 7))
	for _, tc := range []struct {
		name string
		v6   bool
		buf  []byte
	}{
		{"nil", false, nil},
		{"short header", false, []byte{1, 0}},
		{"v4 cut mid-row", false, full4[:len(full4)-1]},
		{"v6 cut mid-row", true, full6[:len(full6)-10]},
		{"v4 table read as v6", true, full4},
		{"huge count", false, table(0xFFFFFFFF, row4(mibTCPStateEstab, "127.0.0.1:1", "127.0.0.1:2", 7))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rows, err := parseTCPTable(tc.buf, tc.v6); err == nil {
				t.Errorf("parseTCPTable = %v, want an error", rows)
			}
		})
	}
}

func TestTableConnOwned(t *testing.T) {
	for _, tc := range []struct {
		state, pid uint32
		want       bool
	}{
		{mibTCPStateEstab, 100, true},
		{mibTCPStateCloseWait, 100, true},
		{mibTCPStateEstab, 0, false},
		{mibTCPStateTimeWait, 0, false},
		{mibTCPStateTimeWait, 100, false},
		{mibTCPStateDeleteTCB, 100, false},
		{mibTCPStateListen, 100, false},
		{mibTCPStateSynRcvd, 100, false},
		{mibTCPStateClosed, 100, false},
	} {
		if got := tableConnOwned(tc.state, tc.pid); got != tc.want {
			t.Errorf("tableConnOwned(%d, %d) = %v, want %v", tc.state, tc.pid, got, tc.want)
		}
	}
}

func FuzzParseTcpTable(f *testing.F) {
	f.Add(table(1, row4(mibTCPStateEstab, "127.0.0.1:1", "127.0.0.1:2", 7)), false)
	f.Add(table(1, row6(mibTCPStateEstab, "[::1]:1", "[::1]:2", 7)), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, false)
	f.Fuzz(func(t *testing.T, buf []byte, v6 bool) {
		rows, err := parseTCPTable(buf, v6)
		if err != nil {
			return
		}
		size := tcpRowSize4
		if v6 {
			size = tcpRowSize6
		}
		if len(rows) > (len(buf)-4)/size {
			t.Fatalf("%d rows from %d bytes", len(rows), len(buf))
		}
		for _, r := range rows {
			if r.local.Addr().Is4() == v6 || r.remote.Addr().Is4() == v6 {
				t.Fatalf("row %v of the wrong family", r)
			}
		}
	})
}
