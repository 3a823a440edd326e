package peercred

// Parsing of the tables Windows' GetExtendedTcpTable returns for
// TCP_TABLE_OWNER_PID_ALL. It has no build tags so that its tests run everywhere;
// peercred_windows.go fetches the tables.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// MIB_TCP_STATE values, as in the dwState column.
const (
	mibTCPStateClosed    = 1
	mibTCPStateListen    = 2
	mibTCPStateSynSent   = 3
	mibTCPStateSynRcvd   = 4
	mibTCPStateEstab     = 5
	mibTCPStateFinWait1  = 6
	mibTCPStateFinWait2  = 7
	mibTCPStateCloseWait = 8
	mibTCPStateClosing   = 9
	mibTCPStateLastAck   = 10
	mibTCPStateTimeWait  = 11
	mibTCPStateDeleteTCB = 12
)

// Row sizes: MIB_TCPROW_OWNER_PID is six DWORDs (state, local address, local port,
// remote address, remote port, PID); MIB_TCP6ROW_OWNER_PID is a 16-byte local
// address, local scope, local port, 16-byte remote address, remote scope, remote
// port, state and PID. Both tables start with a DWORD dwNumEntries, and every field
// is DWORD-aligned, so the rows follow it without padding.
const (
	tcpRowSize4 = 6 * 4
	tcpRowSize6 = 16 + 2*4 + 16 + 4*4
)

// tcpRow is one row of either table.
type tcpRow struct {
	local, remote netip.AddrPort
	state         uint32
	pid           uint32
}

// tableConnOwned reports whether a connection row in state st belongs to a live
// socket of its PID: TIME_WAIT and DELETE_TCB rows are the system's (PID 0), a
// SYN_RCVD row is not accepted yet, and LISTEN rows are not connections.
func tableConnOwned(st, pid uint32) bool {
	switch st {
	case mibTCPStateSynSent, mibTCPStateEstab, mibTCPStateFinWait1, mibTCPStateFinWait2,
		mibTCPStateCloseWait, mibTCPStateClosing, mibTCPStateLastAck:
		return pid != 0
	}
	return false
}

// parseTCPTable parses a MIB_TCPTABLE_OWNER_PID (v6 false) or MIB_TCP6TABLE_OWNER_PID
// (v6 true) table. DWORDs are little-endian, as on every Windows machine; addresses
// are bytes in network order, and each port is in network byte order in the low 16
// bits of its DWORD, which puts it in the DWORD's first two bytes.
func parseTCPTable(buf []byte, v6 bool) ([]tcpRow, error) {
	if len(buf) < 4 {
		return nil, fmt.Errorf("tcp table of %d bytes has no header", len(buf))
	}
	size := tcpRowSize4
	if v6 {
		size = tcpRowSize6
	}
	n := uint64(binary.LittleEndian.Uint32(buf))
	if n > uint64(len(buf)-4)/uint64(size) {
		return nil, fmt.Errorf("tcp table claims %d rows of %d bytes but holds %d bytes", n, size, len(buf)-4)
	}
	rows := make([]tcpRow, n)
	for i := range rows {
		b := buf[4+i*size:][:size]
		r := &rows[i]
		if v6 {
			r.local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[0:16])), tablePort(b[20:24]))
			r.remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), tablePort(b[44:48]))
			r.state = binary.LittleEndian.Uint32(b[48:52])
			r.pid = binary.LittleEndian.Uint32(b[52:56])
		} else {
			r.state = binary.LittleEndian.Uint32(b[0:4])
			r.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), tablePort(b[8:12]))
			r.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), tablePort(b[16:20]))
			r.pid = binary.LittleEndian.Uint32(b[20:24])
		}
	}
	return rows, nil
}

// tablePort reads a port stored in network byte order in the low 16 bits of a
// little-endian DWORD.
func tablePort(dword []byte) uint16 {
	return binary.BigEndian.Uint16(dword[:2])
}

// tableBound reports whether a socket table row is a socket with an owner that
// BoundSockets answers for ports lo to hi.
func tableBound(r tcpRow, lo, hi uint16) bool {
	return collides(r.local, lo, hi) && ((r.state == mibTCPStateListen && r.pid != 0) || tableConnOwned(r.state, r.pid))
}
