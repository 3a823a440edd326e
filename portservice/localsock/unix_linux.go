package localsock

import (
	"errors"
	"net"
	"strconv"

	"github.com/cardbridge/cardbridge/peercred"
	"golang.org/x/sys/unix"
)

// DefaultPath is where the port service listens unless told otherwise.
const DefaultPath = "/run/cardbridge/portservice.sock"

// peerCred returns the credentials the kernel recorded for the other end of c when
// it connected (or, for the client end, when the server called listen).
func peerCred(c net.Conn) (*unix.Ucred, error) {
	var cred *unix.Ucred
	var cerr error
	if err := rawControl(c, func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	return cred, nil
}

func peerUser(c net.Conn) (peercred.User, error) {
	cred, err := peerCred(c)
	if err != nil {
		return peercred.User{}, err
	}
	return peercred.User{ID: "uid:" + strconv.FormatUint(uint64(cred.Uid), 10)}, nil
}

func peerPID(c net.Conn) (int, error) {
	cred, err := peerCred(c)
	if err != nil {
		return 0, err
	}
	if cred.Pid <= 0 {
		return 0, errors.New("peer process is outside this pid namespace")
	}
	return int(cred.Pid), nil
}
