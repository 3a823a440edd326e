//go:build unix

package localsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// staleCheckTimeout bounds the dial that tells a live socket from a stale one.
const staleCheckTimeout = 2 * time.Second

func listen(path string) (net.Listener, error) {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Every local user may connect: who they are comes from the kernel, not from
	// the socket's permissions.
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, fmt.Errorf("let every user connect: %w", err)
	}
	return l, nil
}

// makeDir creates dir, mode 0755 whatever the umask, unless it exists.
func makeDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%s is not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	return nil
}

// removeStale removes a socket file at path that nothing answers on: one left by a
// service that crashed or was killed. A live socket gives ErrInUse, anything other
// than a socket an error, and a missing file nothing.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check existing socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), staleCheckTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("%w on %s", ErrInUse, path)
	case errors.Is(err, syscall.EAGAIN):
		// The listener's backlog is full: it is alive, just busy.
		return fmt.Errorf("%w on %s", ErrInUse, path)
	case !errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("check existing socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// rawControl runs f on the descriptor of the Unix socket under c.
func rawControl(c net.Conn, f func(fd uintptr)) error {
	uc, err := connOf[*net.UnixConn](c)
	if err != nil {
		return err
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(f)
}

// peerClosed: a reset connection, or a write to one the other end closed.
func peerClosed(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
