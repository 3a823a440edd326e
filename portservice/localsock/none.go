//go:build !unix && !windows

package localsock

import (
	"context"
	"net"

	"github.com/cardbridge/cardbridge/peercred"
)

// DefaultPath is where the port service would listen; this platform has no local
// socket to listen on.
const DefaultPath = ""

func listen(string) (net.Listener, error) { return nil, ErrUnsupported }

func dial(context.Context, string) (net.Conn, error) { return nil, ErrUnsupported }

func peerUser(net.Conn) (peercred.User, error) { return peercred.User{}, ErrUnsupported }

func peerPID(net.Conn) (int, error) { return 0, ErrUnsupported }

func peerClosed(error) bool { return false }
