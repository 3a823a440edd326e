// Package peercred tells which OS user owns a TCP socket on the loopback interface:
// the other end of a connection, so that the agent can refuse callers that are not
// its own user and the port service can answer each caller with that caller's own
// port, and the socket listening on a port, so that the port service can notice a
// port squatted by another user.
//
// On Linux it asks the kernel's socket tables through NETLINK_SOCK_DIAG and falls back
// to /proc/net/tcp and /proc/net/tcp6 where netlink is not available. On Windows it
// reads GetExtendedTcpTable and the owning process's token. Other systems get
// ErrUnsupported. Every function is safe for concurrent use.
package peercred

import (
	"errors"
	"fmt"
	"net/netip"
	"os/user"
	"strconv"
	"strings"
)

// User is an OS account, as recorded in PortStore.txt and compared by the agent.
type User struct {
	// ID is "uid:1000" on Unix and a SID string such as "S-1-5-21-..." on Windows.
	ID string
}

// String returns the account's ID.
func (u User) String() string { return u.ID }

// Describe returns the account's ID and, where the system knows it, its
// name, for messages a person reads: "uid:1001 (alice)".
func (u User) Describe() string {
	if a, err := user.LookupId(strings.TrimPrefix(u.ID, "uid:")); err == nil && a.Username != "" {
		return u.ID + " (" + a.Username + ")"
	}
	return u.ID
}

// ErrNotFound means there is no socket to answer for: the peer has closed it, it has
// no owning process (TIME_WAIT, not yet accepted), or the address is not on loopback.
var ErrNotFound = errors.New("no such socket")

// ErrUnsupported means this platform has no way to find a socket's owner.
var ErrUnsupported = errors.New("connection owner lookup not supported on this platform")

// Current returns the user the process runs as, the one sockets it creates belong to.
func Current() (User, error) {
	u, err := current()
	if err != nil {
		return User{}, fmt.Errorf("peercred: current user: %w", err)
	}
	return u, nil
}

// PeerOf returns the owner of the socket at remote connected to local, given the
// addresses of a loopback connection as seen from our end.
func PeerOf(local, remote netip.AddrPort) (User, error) {
	// The socket we want is the peer's own: bound to remote, connected to local.
	want, err := peerID(local, remote)
	if err != nil {
		return User{}, fmt.Errorf("peercred: owner of %v connected to %v: %w", remote, local, err)
	}
	u, err := peerOf(want)
	if err != nil {
		return User{}, fmt.Errorf("peercred: owner of %v connected to %v: %w", want.local, want.remote, err)
	}
	return u, nil
}

// Listener is a listening socket found by FindListener.
type Listener struct {
	// Addr is the address the socket is bound to: the one asked about, or a wildcard
	// (0.0.0.0, ::, or the IPv4-mapped form of either) that covers it.
	Addr netip.AddrPort
	// Owner is the user who created the socket.
	Owner User

	inode uint64 // Linux: the socket's inode, for Process
	pid   uint32 // Windows: the owning process, for Process
}

// Process names the process that holds the listening socket, "name (pid N)",
// where the OS tells this caller (on Linux, other users' processes only to
// root); "" otherwise. It looks the process up when called.
func (l Listener) Process() string { return processOf(l) }

// FindListener returns the socket that accepts TCP connections to addr, a loopback or
// wildcard address, preferring an exact binding to a wildcard one as the kernel does.
//
// For 127.0.0.1:P it looks for, in order, 127.0.0.1:P, [::ffff:127.0.0.1]:P,
// 0.0.0.0:P, [::ffff:0.0.0.0]:P and a dual-stack [::]:P; for [::1]:P, [::1]:P then
// [::]:P; for 0.0.0.0:P and [::]:P, the wildcards alone. IPv4 and IPv6 are separate
// sockets that different users may hold, so a caller guarding a port should ask about
// 127.0.0.1:P and [::1]:P both. Where the platform cannot tell whether [::]:P is
// IPv6-only (the /proc fallback and Windows), it is taken to cover IPv4 as well.
func FindListener(addr netip.AddrPort) (Listener, error) {
	cands, err := listenCandidates(addr)
	if err != nil {
		return Listener{}, fmt.Errorf("peercred: listener on %v: %w", addr, err)
	}
	l, err := findListener(addr.Port(), cands)
	if err != nil {
		return Listener{}, fmt.Errorf("peercred: listener on %v: %w", addr, err)
	}
	return l, nil
}

// uidUser returns the User for a Unix uid.
func uidUser(uid uint32) User {
	return User{ID: "uid:" + strconv.FormatUint(uint64(uid), 10)}
}

// normalise returns ap with an IPv4-mapped IPv6 address turned into IPv4 and any
// zone dropped, the form that lookups compare.
func normalise(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// sockID names a TCP socket by its own local and remote addresses, normalised.
type sockID struct {
	local, remote netip.AddrPort
}

// matches reports whether a socket table row with these raw addresses is id.
func (id sockID) matches(local, remote netip.AddrPort) bool {
	return normalise(local) == id.local && normalise(remote) == id.remote
}

// errNotLoopback is returned, without asking the OS, for addresses off loopback.
var errNotLoopback = fmt.Errorf("not a loopback address: %w", ErrNotFound)

// peerID checks that local and remote are the two ends of a loopback connection and
// returns the id of the socket at remote.
func peerID(local, remote netip.AddrPort) (sockID, error) {
	l, r := normalise(local), normalise(remote)
	switch {
	case !l.IsValid() || !r.IsValid() || l.Port() == 0 || r.Port() == 0:
		return sockID{}, fmt.Errorf("incomplete address: %w", ErrNotFound)
	case !l.Addr().IsLoopback() || !r.Addr().IsLoopback():
		return sockID{}, errNotLoopback
	case l.Addr().Is4() != r.Addr().Is4():
		return sockID{}, fmt.Errorf("mixed ipv4 and ipv6 addresses: %w", ErrNotFound)
	}
	return sockID{local: r, remote: l}, nil
}

// listenCand is an address a listening socket may be bound to and still accept
// connections to the address asked about.
type listenCand struct {
	// addr is as the socket tables store it: IPv4 for an IPv4 socket, IPv6 (perhaps
	// IPv4-mapped) for an IPv6 socket.
	addr netip.Addr
	// dualStack is set where only an IPv6 socket that also takes IPv4 qualifies.
	dualStack bool
}

// v6Only says what is known of a listening IPv6 socket's IPV6_V6ONLY option.
type v6Only uint8

const (
	v6OnlyUnknown v6Only = iota
	v6OnlyNo
	v6OnlyYes
)

// listenCandidates returns the bindings that accept connections to addr, best first.
func listenCandidates(addr netip.AddrPort) ([]listenCand, error) {
	a := addr.Addr().Unmap().WithZone("")
	switch {
	case !addr.IsValid() || addr.Port() == 0:
		return nil, fmt.Errorf("incomplete address: %w", ErrNotFound)
	case a == netip.IPv4Unspecified():
		return []listenCand{
			{addr: a},
			{addr: netip.AddrFrom16(a.As16())},
			{addr: netip.IPv6Unspecified(), dualStack: true},
		}, nil
	case a == netip.IPv6Unspecified():
		return []listenCand{{addr: a}}, nil
	case !a.IsLoopback():
		return nil, errNotLoopback
	case a.Is4():
		return []listenCand{
			{addr: a},
			{addr: netip.AddrFrom16(a.As16())},
			{addr: netip.IPv4Unspecified()},
			{addr: netip.AddrFrom16(netip.IPv4Unspecified().As16())},
			{addr: netip.IPv6Unspecified(), dualStack: true},
		}, nil
	default:
		return []listenCand{{addr: a}, {addr: netip.IPv6Unspecified()}}, nil
	}
}

// needFamilies reports whether IPv4 and IPv6 sockets can be among cands.
func needFamilies(cands []listenCand) (v4, v6 bool) {
	for _, c := range cands {
		if c.addr.Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

// rankListener returns the index in cands of a listening socket bound to addr (raw,
// as the socket table has it), or -1 when that socket does not accept connections to
// the address the candidates were made for.
func rankListener(cands []listenCand, addr netip.Addr, only v6Only) int {
	addr = addr.WithZone("")
	for i, c := range cands {
		if c.addr == addr {
			if c.dualStack && only == v6OnlyYes {
				return -1
			}
			return i
		}
	}
	return -1
}

// Bound is a TCP socket with an owner whose local address is one that binding
// 127.0.0.1:P or [::1]:P collides with: a listener or a client socket, in any
// state in which a process owns it (listening, SYN-sent, established, closing).
type Bound struct {
	// Addr is the socket's local address, as the socket table has it.
	Addr netip.AddrPort
	// Listening is set for a listening socket.
	Listening bool
	// Owner is the user who created the socket.
	Owner User
}

// BoundSockets returns every socket with an owner bound to a local port from lo
// to hi on 127.0.0.1, ::1 or a wildcard address (either plain or IPv4-mapped),
// whatever it is connected to. Sockets in TIME_WAIT or not yet accepted have no
// owner and are left out; so are sockets bound but neither listening nor
// connected, which no socket table lists.
func BoundSockets(lo, hi uint16) ([]Bound, error) {
	if lo == 0 || lo > hi {
		return nil, fmt.Errorf("peercred: sockets bound to ports %d-%d: %w", lo, hi, errBadRange)
	}
	bs, err := boundSockets(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("peercred: sockets bound to ports %d-%d: %w", lo, hi, err)
	}
	return bs, nil
}

// errBadRange is returned for an empty or zero port range.
var errBadRange = errors.New("bad port range")

// boundAddrs are the local addresses whose sockets collide with binding
// 127.0.0.1:P or [::1]:P, in the forms socket tables store them.
var boundAddrs = func() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, a := range []string{"127.0.0.1", "::1"} {
		cands, _ := listenCandidates(netip.AddrPortFrom(netip.MustParseAddr(a), 1))
		for _, c := range cands {
			m[c.addr] = true
		}
	}
	return m
}()

// collides reports whether a socket bound to local (raw, as the socket table has
// it) takes a port from lo to hi on a loopback address cardbridge binds.
func collides(local netip.AddrPort, lo, hi uint16) bool {
	p := local.Port()
	return p >= lo && p <= hi && boundAddrs[local.Addr().WithZone("")]
}
