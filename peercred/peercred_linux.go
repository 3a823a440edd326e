//go:build linux

package peercred

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// On Linux a lookup asks the kernel over NETLINK_SOCK_DIAG. A connection is looked up
// by its exact 4-tuple without NLM_F_DUMP, so the kernel answers from its established
// hash table (inet_diag_dump_one_icsk) in time independent of how many sockets exist.
// Listeners are found with a dump restricted to TCP_LISTEN and the port: the request's
// id.idiag_sport is the kernel's own port filter on its walk of the listening hash
// (no bytecode needed), and the answers are checked again here. Where netlink is not
// available (EPERM under seccomp or SELinux, EPROTONOSUPPORT or ENOENT in sandboxes
// such as gVisor, or no tcp_diag module), lookups read /proc/net/tcp and tcp6 instead,
// a scan of every socket.

// forcePath, when not pathAuto, makes every lookup take one path with no fallback,
// so tests can exercise each.
var forcePath atomic.Int32

const (
	pathAuto int32 = iota
	pathDiag
	pathProc
)

func current() (User, error) {
	// Sockets belong to the creating process's effective (file-system) uid.
	return uidUser(uint32(os.Geteuid())), nil
}

// lookup runs a lookup over sock_diag where it is usable and over /proc where it
// is not or where it failed, saying why sock_diag failed if /proc fails too. An
// ErrNotFound from sock_diag is an answer, not a failure. forcePath picks one
// path with no fallback.
func lookup[T any](viaDiag, viaProc func() (T, error)) (T, error) {
	switch forcePath.Load() {
	case pathDiag:
		return viaDiag()
	case pathProc:
		return viaProc()
	}
	var diagErr error
	if diag.usable() {
		v, err := viaDiag()
		if err == nil || errors.Is(err, ErrNotFound) {
			return v, err
		}
		diagErr = err
	}
	v, err := viaProc()
	if err != nil && diagErr != nil {
		var zero T
		return zero, fmt.Errorf("%w (after sock_diag failed: %v)", err, diagErr)
	}
	return v, err
}

func peerOf(want sockID) (User, error) {
	return lookup(
		func() (User, error) { return diagPeer(want) },
		func() (User, error) { return procPeer(want) })
}

func findListener(port uint16, cands []listenCand) (Listener, error) {
	return lookup(
		func() (Listener, error) { return diagListener(port, cands) },
		func() (Listener, error) { return procListener(port, cands) })
}

// The /proc fallback.

const (
	procTCP4 = "/proc/net/tcp"
	procTCP6 = "/proc/net/tcp6"
)

// scanProcFile scans one of the /proc/net files; a missing tcp6 (no IPv6) is empty.
func scanProcFile(path string, yield func(procEntry) bool) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read socket table: %w", err)
	}
	defer f.Close()
	if err := scanProcNet(f, binary.NativeEndian, yield); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func procPeer(want sockID) (User, error) {
	// An IPv4 connection is in tcp, or in tcp6 in IPv4-mapped form when either end is
	// a dual-stack IPv6 socket.
	paths := []string{procTCP6}
	if want.local.Addr().Is4() {
		paths = []string{procTCP4, procTCP6}
	}
	for _, p := range paths {
		var uid uint32
		found := false
		err := scanProcFile(p, func(e procEntry) bool {
			if want.matches(e.local, e.remote) && connOwned(e.state, e.inode) {
				uid, found = e.uid, true
				return false
			}
			return true
		})
		if err != nil {
			return User{}, err
		}
		if found {
			return uidUser(uid), nil
		}
	}
	return User{}, ErrNotFound
}

func procListener(port uint16, cands []listenCand) (Listener, error) {
	v4, v6 := needFamilies(cands)
	best, bestRank := procEntry{}, len(cands)
	consider := func(e procEntry) bool {
		if e.state != tcpListen || e.local.Port() != port {
			return true
		}
		// /proc does not say whether an IPv6 socket is IPv6-only.
		if r := rankListener(cands, e.local.Addr(), v6OnlyUnknown); r >= 0 && r < bestRank {
			best, bestRank = e, r
		}
		return bestRank > 0
	}
	if v4 {
		if err := scanProcFile(procTCP4, consider); err != nil {
			return Listener{}, err
		}
	}
	if v6 && bestRank > 0 {
		if err := scanProcFile(procTCP6, consider); err != nil {
			return Listener{}, err
		}
	}
	if bestRank == len(cands) {
		return Listener{}, ErrNotFound
	}
	return Listener{Addr: best.local, Owner: uidUser(best.uid), inode: best.inode}, nil
}

// processOf finds the process holding the listener's socket by its inode,
// among the processes whose descriptors this process may read.
func processOf(l Listener) string {
	if l.inode == 0 {
		return ""
	}
	target := "socket:[" + strconv.FormatUint(l.inode, 10) + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	for _, p := range procs {
		pid := p.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		fds, err := os.ReadDir("/proc/" + pid + "/fd")
		if err != nil {
			continue // gone, or another user's
		}
		for _, fd := range fds {
			if link, err := os.Readlink("/proc/" + pid + "/fd/" + fd.Name()); err == nil && link == target {
				comm, _ := os.ReadFile("/proc/" + pid + "/comm")
				return strings.TrimSpace(string(comm)) + " (pid " + pid + ")"
			}
		}
	}
	return ""
}

// The sock_diag path.

const (
	// diagTimeout bounds one exchange with the kernel, which normally takes microseconds.
	diagTimeout = 2 * time.Second
	// diagBufSize holds the largest message batch the kernel sends in one datagram.
	diagBufSize = 32 << 10
	// diagMaxIdle is how many netlink sockets are kept open for reuse.
	diagMaxIdle = 4

	nlmsgHdrLen      = 16
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagSkV6Only = 11 // INET_DIAG_SKV6ONLY attribute
)

// inetDiagNoCookie is INET_DIAG_NOCOOKIE: match the socket whatever its cookie.
const inetDiagNoCookie = ^uint32(0)

// diagState is whether sock_diag works here, and the idle netlink sockets.
type diagState struct {
	mu    sync.Mutex // serialises probes
	state atomic.Int32
	idle  chan *diagSock
}

const (
	diagUnknown int32 = iota
	diagUsable
	diagUnavailable
)

var diag = diagState{idle: make(chan *diagSock, diagMaxIdle)}

// usable reports whether sock_diag answers, probing the kernel the first time. A
// probe that fails for a reason that may pass (a timeout, no free descriptors) is
// tried again on the next lookup.
func (d *diagState) usable() bool {
	switch d.state.Load() {
	case diagUsable:
		return true
	case diagUnavailable:
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.state.Load(); st != diagUnknown {
		return st == diagUsable
	}
	err := d.probe()
	switch {
	case err == nil:
		d.state.Store(diagUsable)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES),
		errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT),
		errors.Is(err, unix.ESOCKTNOSUPPORT), errors.Is(err, unix.EOPNOTSUPP),
		errors.Is(err, unix.ENOENT), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		d.state.Store(diagUnavailable)
	}
	return err == nil
}

// probe sends a TCP dump that matches no socket. It succeeds only if the kernel has
// sock_diag and its TCP handler; a missing handler answers ENOENT, which an exact
// lookup could not tell apart from a missing socket.
func (d *diagState) probe() error {
	return d.do(func(s *diagSock) error {
		return s.query(unix.AF_INET, 0, sockID{}, true, func(diagMsg) bool { return true })
	})
}

// do runs fn with an idle netlink socket, or a new one, and keeps the socket for
// reuse unless fn failed and may have left answers unread.
func (d *diagState) do(fn func(*diagSock) error) error {
	var s *diagSock
	select {
	case s = <-d.idle:
	default:
		var err error
		if s, err = openDiagSock(); err != nil {
			return err
		}
	}
	err := fn(s)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.close()
		return err
	}
	select {
	case d.idle <- s:
	default:
		s.close()
	}
	return err
}

func diagPeer(want sockID) (User, error) {
	family := uint8(unix.AF_INET6)
	if want.local.Addr().Is4() {
		// The kernel's IPv4 lookup also finds dual-stack IPv6 sockets carrying IPv4,
		// since they are hashed by their IPv4 addresses.
		family = unix.AF_INET
	}
	var u User
	err := diag.do(func(s *diagSock) error {
		var got diagMsg
		answered := false
		err := s.query(family, ^uint32(0), want, false, func(m diagMsg) bool {
			got, answered = m, true
			return false
		})
		if errors.Is(err, unix.ENOENT) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		// With no established socket the kernel falls back to a listener on the port;
		// a TIME_WAIT or orphaned socket has no owner.
		if !answered || !want.matches(got.local, got.remote) || !connOwned(got.state, uint64(got.inode)) {
			return ErrNotFound
		}
		u = uidUser(got.uid)
		return nil
	})
	return u, err
}

func diagListener(port uint16, cands []listenCand) (Listener, error) {
	v4, v6 := needFamilies(cands)
	var best diagMsg
	bestRank := len(cands)
	consider := func(m diagMsg) bool {
		if m.state != tcpListen || m.local.Port() != port {
			return true
		}
		if r := rankListener(cands, m.local.Addr(), m.v6Only); r >= 0 && r < bestRank {
			best, bestRank = m, r
		}
		return true
	}
	err := diag.do(func(s *diagSock) error {
		if v4 {
			if err := s.query(unix.AF_INET, 1<<tcpListen, sockID{local: netip.AddrPortFrom(netip.IPv4Unspecified(), port)}, true, consider); err != nil {
				return err
			}
		}
		if v6 && bestRank > 0 {
			if err := s.query(unix.AF_INET6, 1<<tcpListen, sockID{local: netip.AddrPortFrom(netip.IPv6Unspecified(), port)}, true, consider); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Listener{}, err
	}
	if bestRank == len(cands) {
		return Listener{}, ErrNotFound
	}
	return Listener{Addr: best.local, Owner: uidUser(best.uid), inode: uint64(best.inode)}, nil
}

// diagSock is a NETLINK_SOCK_DIAG socket used by one lookup at a time.
type diagSock struct {
	fd  int
	seq uint32
	buf []byte
}

func openDiagSock() (*diagSock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag socket: %w", err)
	}
	tv := unix.NsecToTimeval(diagTimeout.Nanoseconds())
	for _, opt := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("set sock_diag socket timeout: %w", err)
		}
	}
	if err := unix.Connect(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect sock_diag socket: %w", err)
	}
	return &diagSock{fd: fd, buf: make([]byte, diagBufSize)}, nil
}

func (s *diagSock) close() { unix.Close(s.fd) }

// diagMsg is the part of a struct inet_diag_msg that lookups use.
type diagMsg struct {
	local, remote netip.AddrPort
	state         uint8
	uid, inode    uint32
	v6Only        v6Only
}

// query sends one inet_diag_req_v2 for TCP sockets of family in states and with the
// addresses of id (zero for none), as a dump or as an exact lookup, and calls fn with
// each answer until fn returns false; a dump is read to its end either way. An exact lookup of a
// socket that does not exist fails with ENOENT.
func (s *diagSock) query(family uint8, states uint32, id sockID, dump bool, fn func(diagMsg) bool) error {
	s.seq++
	flags := uint16(unix.NLM_F_REQUEST)
	if dump {
		flags |= unix.NLM_F_DUMP
	}
	var req [nlmsgHdrLen + inetDiagReqLen]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], flags)
	ne.PutUint32(req[8:], s.seq)
	r := req[nlmsgHdrLen:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], states)
	putSockAddr(r[8:], r[12:], id.local)   // idiag_sport, idiag_src
	putSockAddr(r[10:], r[28:], id.remote) // idiag_dport, idiag_dst
	ne.PutUint32(r[48:], inetDiagNoCookie)
	ne.PutUint32(r[52:], inetDiagNoCookie)

	if _, err := unix.Write(s.fd, req[:]); err != nil {
		return fmt.Errorf("send sock_diag request: %w", err)
	}
	deadline := time.Now().Add(diagTimeout)
	stopped := false // fn has had enough; a dump is still read to its end
	for {
		n, err := s.recv(deadline)
		if err != nil {
			return err
		}
		for b := s.buf[:n]; len(b) >= nlmsgHdrLen; {
			l := ne.Uint32(b[0:])
			typ := ne.Uint16(b[4:])
			seq := ne.Uint32(b[8:])
			if l < nlmsgHdrLen || uint64(l) > uint64(len(b)) {
				return fmt.Errorf("read sock_diag answer: malformed netlink message")
			}
			payload := b[nlmsgHdrLen:l]
			b = b[min(uint64(len(b)), (uint64(l)+3)&^3):]
			if seq != s.seq {
				continue // an answer to an earlier request
			}
			switch typ {
			case unix.NLMSG_DONE:
				if len(payload) >= 4 {
					if e := int32(ne.Uint32(payload)); e < 0 {
						return fmt.Errorf("sock_diag dump: %w", unix.Errno(-e))
					}
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(payload) < 4 {
					return fmt.Errorf("read sock_diag answer: short error message")
				}
				if e := int32(ne.Uint32(payload)); e < 0 {
					return fmt.Errorf("sock_diag: %w", unix.Errno(-e))
				}
				return nil
			case unix.SOCK_DIAG_BY_FAMILY:
				m, ok := parseDiagMsg(payload)
				if !ok {
					return fmt.Errorf("read sock_diag answer: malformed inet_diag_msg")
				}
				if !stopped {
					stopped = !fn(m)
				}
				if !dump {
					return nil
				}
			}
		}
	}
}

// recv reads one datagram into s.buf, retrying reads that a signal interrupted until
// deadline; SO_RCVTIMEO bounds each read.
func (s *diagSock) recv(deadline time.Time) (int, error) {
	for {
		n, _, err := unix.Recvfrom(s.fd, s.buf, unix.MSG_TRUNC)
		switch {
		case err == unix.EINTR && time.Now().Before(deadline):
			continue
		case err == unix.EAGAIN || err == unix.EINTR:
			return 0, fmt.Errorf("read sock_diag answer: %w", os.ErrDeadlineExceeded)
		case err != nil:
			return 0, fmt.Errorf("read sock_diag answer: %w", err)
		case n > len(s.buf):
			return 0, fmt.Errorf("read sock_diag answer: %d-byte message truncated", n)
		case time.Now().After(deadline):
			return 0, fmt.Errorf("read sock_diag answer: %w", os.ErrDeadlineExceeded)
		}
		return n, nil
	}
}

// putSockAddr writes ap's port (big-endian) and address (network order) into an
// inet_diag_sockid; an IPv4 address takes the first four bytes of the field.
func putSockAddr(port, addr []byte, ap netip.AddrPort) {
	if !ap.IsValid() {
		return
	}
	binary.BigEndian.PutUint16(port, ap.Port())
	if a := ap.Addr(); a.Is4() {
		b := a.As4()
		copy(addr, b[:])
	} else {
		b := a.As16()
		copy(addr, b[:])
	}
}

// parseDiagMsg parses a struct inet_diag_msg and its attributes.
func parseDiagMsg(b []byte) (diagMsg, bool) {
	if len(b) < inetDiagMsgLen {
		return diagMsg{}, false
	}
	ne := binary.NativeEndian
	m := diagMsg{
		state: b[1],
		uid:   ne.Uint32(b[64:]),
		inode: ne.Uint32(b[68:]),
	}
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	switch b[0] {
	case unix.AF_INET:
		m.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		m.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	case unix.AF_INET6:
		m.local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport)
		m.remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport)
	default:
		return diagMsg{}, false
	}
	// Attributes: struct nlattr { u16 len; u16 type } and a payload, 4-byte aligned.
	for a := b[inetDiagMsgLen:]; len(a) >= 4; {
		l := int(ne.Uint16(a[0:]))
		typ := ne.Uint16(a[2:]) & 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
		if l < 4 || l > len(a) {
			break
		}
		if typ == inetDiagSkV6Only && l >= 5 {
			m.v6Only = v6OnlyNo
			if a[4] != 0 {
				m.v6Only = v6OnlyYes
			}
		}
		a = a[min(len(a), (l+3)&^3):]
	}
	return m, true
}

func boundSockets(lo, hi uint16) ([]Bound, error) {
	return lookup(
		func() ([]Bound, error) { return diagBound(lo, hi) },
		func() ([]Bound, error) { return procBoundSockets(lo, hi) })
}

func procBoundSockets(lo, hi uint16) ([]Bound, error) {
	var out []Bound
	for _, p := range []string{procTCP4, procTCP6} {
		err := scanProcFile(p, func(e procEntry) bool {
			if procBound(e, lo, hi) {
				out = append(out, Bound{Addr: e.local, Listening: e.state == tcpListen, Owner: uidUser(e.uid)})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ownedStates are the TCP states in which a socket may have an owner; the kernel
// leaves the others (TIME_WAIT, half-open) out of a dump asking for these.
const ownedStates = ^uint32(0) &^ (1<<tcpTimeWait | 1<<tcpSynRecv | 1<<tcpNewSynRecv)

func diagBound(lo, hi uint16) ([]Bound, error) {
	var out []Bound
	consider := func(m diagMsg) bool {
		e := procEntry{local: m.local, state: m.state, uid: m.uid, inode: uint64(m.inode)}
		if procBound(e, lo, hi) {
			out = append(out, Bound{Addr: m.local, Listening: m.state == tcpListen, Owner: uidUser(m.uid)})
		}
		return true
	}
	// For one port the request's source port makes the kernel skip the rest.
	var port uint16
	if lo == hi {
		port = lo
	}
	err := diag.do(func(s *diagSock) error {
		for _, fam := range []struct {
			family uint8
			any    netip.Addr
		}{{unix.AF_INET, netip.IPv4Unspecified()}, {unix.AF_INET6, netip.IPv6Unspecified()}} {
			if err := s.query(fam.family, ownedStates, sockID{local: netip.AddrPortFrom(fam.any, port)}, true, consider); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
