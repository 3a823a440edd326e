//go:build unix && !linux && !darwin

package localsock

import (
	"net"

	"github.com/cardbridge/cardbridge/peercred"
)

// DefaultPath is where the port service listens unless told otherwise.
const DefaultPath = "/var/run/cardbridge/portservice.sock"

// Other Unix systems have the socket but no peer credentials here.

func peerUser(net.Conn) (peercred.User, error) { return peercred.User{}, ErrUnsupported }

func peerPID(net.Conn) (int, error) { return 0, ErrUnsupported }
