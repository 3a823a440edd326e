package peercred

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// Lines as a little-endian Linux machine writes them.
const (
	procTCPText = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1222 1 00000000424655d3 100 0 0 10 0                      
   1: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000        0 51234 1 0000000012345678 20 4 30 10 -1                    
   2: 0100007F:8E9F 0100007F:E0BE 06 00000000:00000000 03:00000F0A 00000000     0        0 0 3 0000000039f8f131                                      
   3: 0200007F:D2F4 0100007F:1F90 05 00000000:00000000 00:00000000 00000000 65534        0 0 1 0000000012345679 20 4 30 10 -1
`
	procTCP6Text = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:B5A1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 61000 1 0000000011111111 100 0 0 10 0
   1: 00000000000000000000000001000000:B60A 00000000000000000000000001000000:90F9 06 00000000:00000000 03:00001550 00000000     0        0 0 3 000000007eb87a9f
   2: 0000000000000000FFFF00000100007F:B5A1 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000  1001        0 62000 1 0000000022222222 20 4 30 10 -1
   3: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000 4294967294        0 18446744073709551615 1 0000000022222222 20 4 30 10 -1
`
)

func entry(local, remote string, st uint8, uid uint32, inode uint64) procEntry {
	return procEntry{
		local:  netip.MustParseAddrPort(local),
		remote: netip.MustParseAddrPort(remote),
		state:  st,
		uid:    uid,
		inode:  inode,
	}
}

func fmtEntry(e procEntry) string {
	return fmt.Sprintf("%v->%v st=%d uid=%d inode=%d", e.local, e.remote, e.state, e.uid, e.inode)
}

func fmtEntries(es []procEntry) []string {
	var s []string
	for _, e := range es {
		s = append(s, fmtEntry(e))
	}
	return s
}

func scanAll(t *testing.T, text string, order binary.ByteOrder) []procEntry {
	t.Helper()
	var got []procEntry
	if err := scanProcNet(strings.NewReader(text), order, func(e procEntry) bool {
		got = append(got, e)
		return true
	}); err != nil {
		t.Fatalf("scanProcNet: %v", err)
	}
	return got
}

func TestScanProcNet(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []procEntry
	}{
		{"tcp", procTCPText, []procEntry{
			entry("0.0.0.0:2024", "0.0.0.0:0", tcpListen, 0, 1222),
			entry("127.0.0.1:8080", "127.0.0.1:54004", tcpEstablished, 1000, 51234),
			entry("127.0.0.1:36511", "127.0.0.1:57534", tcpTimeWait, 0, 0),
			entry("127.0.0.2:54004", "127.0.0.1:8080", tcpFinWait2, 65534, 0),
		}},
		{"tcp6", procTCP6Text, []procEntry{
			entry("[::]:46497", "[::]:0", tcpListen, 1000, 61000),
			entry("[::1]:46602", "[::1]:37113", tcpTimeWait, 0, 0),
			entry("[::ffff:127.0.0.1]:46497", "[::ffff:127.0.0.1]:50000", tcpEstablished, 1001, 62000),
			entry("[::1]:8080", "[::1]:40000", tcpEstablished, 4294967294, 18446744073709551615),
		}},
		{"malformed lines skipped", strings.Join([]string{
			"",
			"garbage",
			"   0:",
			"   0: 0100007F:1F90",
			"   0: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0",         // no inode
			"   0: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0 x",       // bad inode
			"   0: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  -1 0 5",         // bad uid
			"   0: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  4294967296 0 5", // uid overflow
			"   0: 0100007F:1F90 0100007F:D2F4 1G2 00000000:00000000 00:00000000 00000000  1000 0 5",      // bad state
			"   0: 0100007G:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0 5",       // bad hex
			"   0: 0100007F1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0 5",        // no colon
			"   0: 0100007F:1F9000 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0 5",     // long port
			"   0: 0100007F:1F90 00000000000000000000000001000000:D2F4 01 0:0 0:0 0 1000 0 5",             // mixed families
			"   0  0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0 5",       // no sl colon
			"   0: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000 0 99999999999999999999",
			"   7: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000 0 77", // good
			"   8: 0100007F:0050\t0100007F:9C41\t01 0:0 0:0 0 1001 0 78\r",                           // tabs, CR
			"   9: " + strings.Repeat("0", 10000) + ":0050 0100007F:9C40 01 0:0 0:0 0 1000 0 5",      // overlong
			"  10: 0100007F:0050 0100007F:9C42 01 0:0 0:0 0 1002 0 79",                               // no final newline
		}, "\n"), []procEntry{
			entry("127.0.0.1:80", "127.0.0.1:40000", tcpEstablished, 1000, 77),
			entry("127.0.0.1:80", "127.0.0.1:40001", tcpEstablished, 1001, 78),
			entry("127.0.0.1:80", "127.0.0.1:40002", tcpEstablished, 1002, 79),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scanAll(t, tc.text, binary.LittleEndian)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries %v, want %d", len(got), fmtEntries(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d = %s, want %s", i, fmtEntry(got[i]), fmtEntry(tc.want[i]))
				}
			}
		})
	}
}

// TestScanProcNetBigEndian checks that addresses follow the writer's byte order.
func TestScanProcNetBigEndian(t *testing.T) {
	text := "  0: 7F000001:1F90 7F000001:D2F4 01 0:0 0:0 0 1000 0 5\n" +
		"  1: 00000000000000000000FFFF7F000001:1F90 00000000000000000000000000000001:D2F4 01 0:0 0:0 0 1000 0 6\n"
	got := scanAll(t, text, binary.BigEndian)
	want := []procEntry{
		entry("127.0.0.1:8080", "127.0.0.1:54004", tcpEstablished, 1000, 5),
		entry("[::ffff:127.0.0.1]:8080", "[::1]:54004", tcpEstablished, 1000, 6),
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %v, want %v", fmtEntries(got), fmtEntries(want))
	}
}

func TestScanProcNetStops(t *testing.T) {
	n := 0
	scanProcNet(strings.NewReader(procTCPText), binary.LittleEndian, func(procEntry) bool {
		n++
		return false
	})
	if n != 1 {
		t.Errorf("yield called %d times after returning false, want 1", n)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestScanProcNetReadError(t *testing.T) {
	err := scanProcNet(failingReader{}, binary.LittleEndian, func(procEntry) bool { return true })
	if err == nil {
		t.Error("read error not reported")
	}
}

func TestConnOwned(t *testing.T) {
	for _, tc := range []struct {
		state uint8
		inode uint64
		want  bool
	}{
		{tcpEstablished, 5, true},
		{tcpCloseWait, 5, true},
		{tcpFinWait1, 5, true},
		{tcpSynSent, 5, true},
		{tcpEstablished, 0, false}, // orphaned or not yet accepted
		{tcpTimeWait, 0, false},
		{tcpTimeWait, 5, false},
		{tcpSynRecv, 5, false},
		{tcpNewSynRecv, 0, false},
		{tcpListen, 5, false},
	} {
		if got := connOwned(tc.state, tc.inode); got != tc.want {
			t.Errorf("connOwned(%d, %d) = %v, want %v", tc.state, tc.inode, got, tc.want)
		}
	}
}

func FuzzParseProcNet(f *testing.F) {
	f.Add([]byte(procTCPText))
	f.Add([]byte(procTCP6Text))
	f.Add([]byte("   0: 0100007F:1F90 0100007F:D2F4 01 0:0 0:0 0 1000 0 5"))
	f.Add([]byte("0: :"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			lines := bytes.Count(data, []byte("\n")) + 1
			n := 0
			err := scanProcNet(bytes.NewReader(data), order, func(e procEntry) bool {
				n++
				if !e.local.IsValid() || !e.remote.IsValid() || e.local.Addr().Is4() != e.remote.Addr().Is4() {
					t.Fatalf("bad entry %+v", e)
				}
				return true
			})
			if err != nil {
				t.Fatalf("scanProcNet: %v", err)
			}
			if n > lines {
				t.Fatalf("%d entries from %d lines", n, lines)
			}
		}
	})
}
