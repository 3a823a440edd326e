package localsock

import (
	"net"
	"strconv"

	"github.com/cardbridge/cardbridge/peercred"
	"golang.org/x/sys/unix"
)

// DefaultPath is where the port service listens unless told otherwise; macOS has no
// /run, and its root volume is read-only.
const DefaultPath = "/var/run/cardbridge/portservice.sock"

func peerUser(c net.Conn) (peercred.User, error) {
	var cred *unix.Xucred
	var cerr error
	if err := rawControl(c, func(fd uintptr) {
		cred, cerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return peercred.User{}, err
	}
	if cerr != nil {
		return peercred.User{}, cerr
	}
	return peercred.User{ID: "uid:" + strconv.FormatUint(uint64(cred.Uid), 10)}, nil
}

func peerPID(c net.Conn) (int, error) {
	var pid int
	var cerr error
	if err := rawControl(c, func(fd uintptr) {
		pid, cerr = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return pid, nil
}
