//go:build !linux && !windows

package peercred

import "os"

// Other systems have no lookup. macOS in particular has no reliable way to map a TCP
// connection to its owner: it keeps no owner in its public socket tables, and the
// only route, walking every process's descriptors with proc_pidfdinfo, is a scan
// that cannot see other users' processes without root and races with exits. (Its
// LOCAL_PEERCRED works on Unix sockets only.) The BSDs' net.inet.tcp.getcred sysctl
// needs root.

func current() (User, error) {
	uid := os.Geteuid()
	if uid < 0 {
		return User{}, ErrUnsupported
	}
	return uidUser(uint32(uid)), nil
}

func peerOf(sockID) (User, error) { return User{}, ErrUnsupported }

func findListener(uint16, []listenCand) (Listener, error) { return Listener{}, ErrUnsupported }

func processOf(Listener) string { return "" }

func boundSockets(uint16, uint16) ([]Bound, error) { return nil, ErrUnsupported }
