package peercred

// Parsing of Linux's /proc/net/tcp and /proc/net/tcp6. It has no build tags so that
// its tests run everywhere; peercred_linux.go reads the files.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
)

// Linux TCP states (include/net/tcp_states.h), as in the st column of /proc/net/tcp
// and in idiag_state.
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpSynRecv     = 3
	tcpFinWait1    = 4
	tcpFinWait2    = 5
	tcpTimeWait    = 6
	tcpClose       = 7
	tcpCloseWait   = 8
	tcpLastAck     = 9
	tcpListen      = 10
	tcpClosing     = 11
	tcpNewSynRecv  = 12
)

// connOwned reports whether a connection socket in state st with this inode belongs
// to a process. TIME_WAIT and half-open (SYN_RECV) sockets are the kernel's alone and
// show uid 0; a socket its process has closed (an orphan) or that nobody has accepted
// yet has no inode and no owner to speak of.
func connOwned(st uint8, inode uint64) bool {
	switch st {
	case tcpTimeWait, tcpSynRecv, tcpNewSynRecv, tcpListen, tcpClose:
		return false
	}
	return inode != 0
}

// procEntry is one socket of /proc/net/tcp or /proc/net/tcp6. Addresses are as the
// file has them: IPv4 from tcp, IPv6 (perhaps IPv4-mapped) from tcp6.
type procEntry struct {
	local, remote netip.AddrPort
	state         uint8
	uid           uint32
	inode         uint64
}

// procMaxLine bounds the bytes kept of one line; real lines are about 150 bytes.
const procMaxLine = 4 << 10

// scanProcNet calls yield for each well-formed socket line read from r, the text of
// /proc/net/tcp or /proc/net/tcp6, until yield returns false. order is the byte order
// of the machine that wrote the text: the kernel prints each 32-bit word of an address
// as a native integer. The header and lines that do not parse are skipped.
func scanProcNet(r io.Reader, order binary.ByteOrder, yield func(procEntry) bool) error {
	var probe [2]byte
	order.PutUint16(probe[:], 1)
	little := probe[0] == 1
	br := bufio.NewReaderSize(r, procMaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any real line: skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if len(line) > 0 {
			if e, ok := parseProcLine(line, little); ok && !yield(e) {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseProcLine parses one socket line, written by a little-endian machine if little
// is set, such as
//
//	0: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000  0 51234 1 ...
//
// whose columns are sl, local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when,
// retrnsmt, uid, timeout and inode.
func parseProcLine(line []byte, little bool) (procEntry, bool) {
	var f [10][]byte
	n := 0
	for i := 0; n < len(f); n++ {
		for i < len(line) && isProcSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && !isProcSpace(line[i]) {
			i++
		}
		f[n] = line[start:i]
	}
	if n < len(f) || f[0][len(f[0])-1] != ':' {
		return procEntry{}, false
	}
	var e procEntry
	var ok bool
	if e.local, ok = parseProcAddr(f[1], little); !ok {
		return procEntry{}, false
	}
	if e.remote, ok = parseProcAddr(f[2], little); !ok || e.remote.Addr().Is4() != e.local.Addr().Is4() {
		return procEntry{}, false
	}
	st, ok := parseHex(f[3], 2)
	if !ok {
		return procEntry{}, false
	}
	e.state = uint8(st)
	uid, ok := parseDec(f[7], 1<<32-1)
	if !ok {
		return procEntry{}, false
	}
	e.uid = uint32(uid)
	if e.inode, ok = parseDec(f[9], 1<<64-1); !ok {
		return procEntry{}, false
	}
	return e, true
}

func isProcSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseProcAddr parses "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6),
// written by a little-endian machine if little is set.
func parseProcAddr(b []byte, little bool) (netip.AddrPort, bool) {
	var hexAddr, hexPort []byte
	switch {
	case len(b) == 8+1+4 && b[8] == ':':
		hexAddr, hexPort = b[:8], b[9:]
	case len(b) == 32+1+4 && b[32] == ':':
		hexAddr, hexPort = b[:32], b[33:]
	default:
		return netip.AddrPort{}, false
	}
	port, ok := parseHex(hexPort, 4)
	if !ok {
		return netip.AddrPort{}, false
	}
	var raw [16]byte
	for i := 0; i < len(hexAddr); i += 8 {
		w, ok := parseHex(hexAddr[i:i+8], 8)
		if !ok {
			return netip.AddrPort{}, false
		}
		if little {
			binary.LittleEndian.PutUint32(raw[i/2:], uint32(w))
		} else {
			binary.BigEndian.PutUint32(raw[i/2:], uint32(w))
		}
	}
	var a netip.Addr
	if len(hexAddr) == 8 {
		a = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		a = netip.AddrFrom16(raw)
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// parseHex parses 1 to max hex digits.
func parseHex(b []byte, max int) (uint64, bool) {
	if len(b) == 0 || len(b) > max {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// parseDec parses a decimal number no greater than limit.
func parseDec(b []byte, limit uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// procBound reports whether a /proc/net socket line is a socket with an owner that
// BoundSockets answers for ports lo to hi.
func procBound(e procEntry, lo, hi uint16) bool {
	return collides(e.local, lo, hi) && (e.state == tcpListen || connOwned(e.state, e.inode))
}
