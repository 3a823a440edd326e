//go:build windows

package peercred

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a lookup reads the system's TCP table with GetExtendedTcpTable, which
// has no lookup by address, finds the row, and reads the user SID from the owning
// process's token. Windows is always little-endian, which parseTCPTable assumes.

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

const (
	// tcpTableOwnerPIDAll is TCP_TABLE_OWNER_PID_ALL from TCP_TABLE_CLASS.
	tcpTableOwnerPIDAll = 5
	// tcpTableMaxSize bounds the table buffer; 64 MiB is over a million IPv6 rows.
	tcpTableMaxSize = 64 << 20
	// tcpTableTries bounds the calls made while the table outgrows the buffer.
	tcpTableTries = 8
)

func current() (User, error) {
	tok, err := windows.OpenCurrentProcessToken()
	if err != nil {
		return User{}, fmt.Errorf("open process token: %w", err)
	}
	defer tok.Close()
	return tokenUser(tok)
}

func tokenUser(tok windows.Token) (User, error) {
	tu, err := tok.GetTokenUser()
	if err != nil {
		return User{}, fmt.Errorf("read token user: %w", err)
	}
	return User{ID: tu.User.Sid.String()}, nil
}

// pidUser returns the user of the process pid.
func pidUser(pid uint32) (User, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		// The process has exited since the table was read.
		return User{}, fmt.Errorf("open process %d: %w", pid, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return User{}, fmt.Errorf("open token of process %d: %w", pid, err)
	}
	defer tok.Close()
	return tokenUser(tok)
}

// tcpTable returns the MIB_TCPTABLE_OWNER_PID (v6 false) or MIB_TCP6TABLE_OWNER_PID
// (v6 true) of every TCP socket.
func tcpTable(v6 bool) ([]byte, error) {
	if err := procGetExtendedTcpTable.Find(); err != nil {
		return nil, fmt.Errorf("find GetExtendedTcpTable: %w", ErrUnsupported)
	}
	af := uintptr(windows.AF_INET)
	if v6 {
		af = windows.AF_INET6
	}
	var buf []uint32 // DWORD-aligned, as the table needs
	for range tcpTableTries {
		var p *uint32
		if len(buf) > 0 {
			p = &buf[0]
		}
		size := uint32(len(buf) * 4)
		r, _, _ := procGetExtendedTcpTable.Call(
			uintptr(unsafe.Pointer(p)),
			uintptr(unsafe.Pointer(&size)),
			0, // unsorted
			af,
			tcpTableOwnerPIDAll,
			0, // reserved
		)
		switch errno := windows.Errno(r); errno {
		case windows.ERROR_SUCCESS:
			if p == nil {
				return nil, errors.New("GetExtendedTcpTable: succeeded without a buffer")
			}
			return unsafe.Slice((*byte)(unsafe.Pointer(p)), len(buf)*4), nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			if size > tcpTableMaxSize {
				return nil, fmt.Errorf("GetExtendedTcpTable: table of %d bytes is too large", size)
			}
			// Leave room for sockets opened before the next call.
			grown := int(size) + int(size)/8 + 4<<10
			buf = make([]uint32, (grown+3)/4)
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable: %w", errno)
		}
	}
	return nil, fmt.Errorf("GetExtendedTcpTable: table still growing after %d tries", tcpTableTries)
}

// tcpRows returns the rows of one table.
func tcpRows(v6 bool) ([]tcpRow, error) {
	buf, err := tcpTable(v6)
	if err != nil {
		return nil, err
	}
	rows, err := parseTCPTable(buf, v6)
	if err != nil {
		return nil, fmt.Errorf("GetExtendedTcpTable: %w", err)
	}
	return rows, nil
}

func peerOf(want sockID) (User, error) {
	// An IPv4 connection is in the IPv4 table, or in the IPv6 one in IPv4-mapped form
	// when its socket is dual-stack.
	tables := []bool{true}
	if want.local.Addr().Is4() {
		tables = []bool{false, true}
	}
	for _, v6 := range tables {
		rows, err := tcpRows(v6)
		if err != nil {
			return User{}, err
		}
		for _, r := range rows {
			if want.matches(r.local, r.remote) && tableConnOwned(r.state, r.pid) {
				return pidUser(r.pid)
			}
		}
	}
	return User{}, ErrNotFound
}

func findListener(port uint16, cands []listenCand) (Listener, error) {
	v4, v6 := needFamilies(cands)
	var best tcpRow
	bestRank := len(cands)
	for _, isV6 := range []bool{false, true} {
		if (isV6 && !v6) || (!isV6 && !v4) || bestRank == 0 {
			continue
		}
		rows, err := tcpRows(isV6)
		if err != nil {
			return Listener{}, err
		}
		for _, r := range rows {
			if r.state != mibTCPStateListen || r.local.Port() != port || r.pid == 0 {
				continue
			}
			// The table does not say whether an IPv6 socket is IPv6-only.
			if rank := rankListener(cands, r.local.Addr(), v6OnlyUnknown); rank >= 0 && rank < bestRank {
				best, bestRank = r, rank
			}
		}
	}
	if bestRank == len(cands) {
		return Listener{}, ErrNotFound
	}
	u, err := pidUser(best.pid)
	if err != nil {
		return Listener{}, err
	}
	return Listener{Addr: best.local, Owner: u, pid: best.pid}, nil
}

// processOf names the owning process by its image file.
func processOf(l Listener) string {
	if l.pid == 0 {
		return ""
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, l.pid)
	if err != nil {
		return fmt.Sprintf("pid %d", l.pid)
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return fmt.Sprintf("pid %d", l.pid)
	}
	return fmt.Sprintf("%s (pid %d)", filepath.Base(windows.UTF16ToString(buf[:n])), l.pid)
}

func boundSockets(lo, hi uint16) ([]Bound, error) {
	var out []Bound
	users := map[uint32]User{}
	var lookupErr error
	for _, v6 := range []bool{false, true} {
		rows, err := tcpRows(v6)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if !tableBound(r, lo, hi) {
				continue
			}
			u, ok := users[r.pid]
			if !ok {
				if u, err = pidUser(r.pid); err != nil {
					// The process may have exited since the table was read.
					lookupErr = err
					continue
				}
				users[r.pid] = u
			}
			out = append(out, Bound{Addr: r.local, Listening: r.state == mibTCPStateListen, Owner: u})
		}
	}
	if len(out) == 0 && lookupErr != nil {
		return nil, lookupErr
	}
	return out, nil
}
