// Package localsock is the local socket between the per-user cardbridge agents and the
// cardbridge-portservice system service: a transport whose peer identity the operating
// system vouches for, and a framing of newline-delimited JSON objects over it.
//
// On Linux and other Unix systems it is a Unix stream socket (DefaultPath) that every
// local user may connect to; the service learns who connected from the kernel
// (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS), never from what the client says. On
// Windows it is a named pipe that refuses remote clients, and the service learns the
// client's account by impersonating it at identification level and reading the
// thread token. What the messages mean is the port service's business.
package localsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"

	"github.com/cardbridge/cardbridge/peercred"
)

// ErrUnsupported means this platform, or this end of a connection, cannot say who the
// peer is, or has no local socket at all.
var ErrUnsupported = errors.New("not supported on this platform")

// ErrInUse means Listen found a live port service already answering on the path.
var ErrInUse = errors.New("another port service is listening")

// pipeSDDL is the security descriptor of the Windows pipe: full control for SYSTEM
// and Administrators; Authenticated Users get generic read and write without
// FILE_APPEND_DATA (0x4), which for a pipe is FILE_CREATE_PIPE_INSTANCE, so that no
// user can create a server instance of the pipe and catch other users' agents.
// 0x12019b is FILE_GENERIC_READ|FILE_GENERIC_WRITE (0x12019f) less that bit.
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;AU)"

// Listen creates the port service's local socket at path (DefaultPath unless the
// service was told otherwise) and returns a listener for agent connections.
//
// On Unix it creates the directory (0755) if missing, replaces a stale socket file
// that nothing answers on, refuses with ErrInUse when a live service answers, and
// makes the socket connectable by every local user (0666). On Windows it creates the
// first instance of a named pipe that remote clients cannot open, failing with
// ErrInUse when the pipe already exists.
func Listen(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("localsock: listen: empty path")
	}
	l, err := listen(path)
	if err != nil {
		return nil, fmt.Errorf("localsock: listen on %s: %w", path, err)
	}
	return l, nil
}

// PeerClosed reports whether err, from a connection's Send or Recv, says
// the other end closed the connection.
func PeerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || peerClosed(err)
}

// ErrNoService is Dial's error when nothing listens at the path: no socket
// or pipe there, or nobody accepting on it.
var ErrNoService = errors.New("no port service listens there")

// Dial connects to the port service's local socket at path; ctx bounds the wait,
// including, on Windows, the wait for a free pipe instance. It fails with
// ErrNoService when no port service listens at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	if path == "" {
		return nil, errors.New("localsock: dial: empty path")
	}
	c, err := dial(ctx, path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("localsock: dial %s: %w: %w", path, ErrNoService, err)
	}
	if err != nil {
		return nil, fmt.Errorf("localsock: dial %s: %w", path, err)
	}
	return c, nil
}

// PeerUser returns the OS account at the other end of c, a connection from Listen or
// Dial, or a net.Conn wrapping one through a NetConn method; for a *Conn pass its
// NetConn.
//
// On an accepted connection it is the client's account as the OS recorded it when the
// client connected. On a dialed one it is the service's account on Unix; a Windows
// client end cannot ask and gets ErrUnsupported.
func PeerUser(c net.Conn) (peercred.User, error) {
	u, err := peerUser(c)
	if err != nil {
		return peercred.User{}, fmt.Errorf("localsock: peer user: %w", err)
	}
	return u, nil
}

// PeerPID returns the process ID at the other end of c, as PeerUser finds c; it is
// for logs, since a process ID can be reused once that process exits.
func PeerPID(c net.Conn) (int, error) {
	pid, err := peerPID(c)
	if err != nil {
		return 0, fmt.Errorf("localsock: peer pid: %w", err)
	}
	return pid, nil
}

// connOf unwraps c, through NetConn methods, down to a T.
func connOf[T net.Conn](c net.Conn) (T, error) {
	var zero T
	for range 16 {
		if c == nil {
			return zero, errors.New("nil connection")
		}
		if t, ok := c.(T); ok {
			if any(t) == any(zero) {
				return zero, errors.New("nil connection")
			}
			return t, nil
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return zero, fmt.Errorf("%T is not a local socket connection: %w", c, ErrUnsupported)
		}
		c = w.NetConn()
	}
	return zero, errors.New("too many connection wrappers")
}
