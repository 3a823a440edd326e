package localsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/cardbridge/cardbridge/peercred"
	"golang.org/x/sys/windows"
)

// DefaultPath is where the port service listens unless told otherwise.
const DefaultPath = `\\.\pipe\cardbridge-portservice`

// On Windows the socket is a byte-mode named pipe opened for overlapped I/O. A
// connected pipe handle is handed to os.NewFile, which since Go 1.25 attaches
// overlapped handles to the runtime's I/O completion port, so reads and writes do
// not hold an OS thread and deadlines work. Waiting for a client (ConnectNamedPipe)
// has no such support, so Accept waits on an event, together with a second event
// that Close sets.

var (
	advapi32                       = windows.NewLazySystemDLL("advapi32.dll")
	procImpersonateNamedPipeClient = advapi32.NewProc("ImpersonateNamedPipeClient")
)

const (
	// pipeBufferSize is the pipe's advisory buffer size each way.
	pipeBufferSize = 64 << 10
	// dialRetry is how often Dial tries again while every pipe instance is busy.
	dialRetry = 10 * time.Millisecond
	// clientAccess is what a client opens the pipe with: read, and write without
	// FILE_APPEND_DATA, which pipeSDDL does not grant.
	clientAccess = windows.GENERIC_READ | windows.FILE_WRITE_DATA
)

// pipeAddr is a pipe's path as a net.Addr.
type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeListener accepts clients on successive instances of one named pipe.
type pipeListener struct {
	path string
	sa   *windows.SecurityAttributes

	// acceptMu lets one Accept run at a time; it owns ov and connEvent, and Close
	// takes it before closing the events.
	acceptMu  sync.Mutex
	ov        windows.Overlapped
	connEvent windows.Handle
	// closeEvent is set by Close to wake a waiting Accept.
	closeEvent windows.Handle

	mu     sync.Mutex
	next   windows.Handle // an instance waiting for a client, or InvalidHandle
	closed bool
}

func listen(path string) (net.Listener, error) {
	sd, err := windows.SecurityDescriptorFromString(pipeSDDL)
	if err != nil {
		return nil, fmt.Errorf("parse security descriptor: %w", err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	h, err := createPipe(path, sa, true)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
		// The first-instance flag makes an existing pipe of this name fail so.
		return nil, fmt.Errorf("%w on %s", ErrInUse, path)
	}
	if err != nil {
		return nil, err
	}
	connEvent, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("create event: %w", err)
	}
	closeEvent, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(connEvent)
		windows.CloseHandle(h)
		return nil, fmt.Errorf("create event: %w", err)
	}
	return &pipeListener{path: path, sa: sa, connEvent: connEvent, closeEvent: closeEvent, next: h}, nil
}

// createPipe creates an instance of the pipe at path; first makes it fail when the
// pipe already exists, so that no one else's pipe is joined.
func createPipe(path string, sa *windows.SecurityAttributes, first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	mode := uint32(windows.PIPE_TYPE_BYTE | windows.PIPE_READMODE_BYTE | windows.PIPE_WAIT | windows.PIPE_REJECT_REMOTE_CLIENTS)
	h, err := windows.CreateNamedPipe(name, flags, mode, windows.PIPE_UNLIMITED_INSTANCES, pipeBufferSize, pipeBufferSize, 0, sa)
	if err != nil {
		return windows.InvalidHandle, fmt.Errorf("create pipe: %w", err)
	}
	return h, nil
}

// Accept waits for the next client and returns its connection.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.acceptMu.Lock()
	defer l.acceptMu.Unlock()
	for {
		h, err := l.take()
		if err != nil {
			return nil, l.opError(err)
		}
		err = l.connect(h)
		if errors.Is(err, windows.ERROR_NO_DATA) {
			// The client came and went before we saw it; wait on the same instance.
			windows.DisconnectNamedPipe(h)
			l.putBack(h)
			continue
		}
		if err != nil {
			windows.CloseHandle(h)
			return nil, l.opError(err)
		}
		// Have the next instance wait already, so that a client finds one even before
		// the next Accept; if that fails, the next Accept tries again.
		if nh, err := createPipe(l.path, l.sa, false); err == nil {
			l.putBack(nh)
		}
		return newPipeConn(h, l.path, true), nil
	}
}

// take returns the waiting instance, or a new one.
func (l *pipeListener) take() (windows.Handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return windows.InvalidHandle, net.ErrClosed
	}
	if h := l.next; h != windows.InvalidHandle {
		l.next = windows.InvalidHandle
		return h, nil
	}
	return createPipe(l.path, l.sa, false)
}

// putBack makes h the waiting instance, or closes it if there is one or the listener
// is closed.
func (l *pipeListener) putBack(h windows.Handle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.next != windows.InvalidHandle {
		windows.CloseHandle(h)
		return
	}
	l.next = h
}

// connect waits until a client opens instance h, or the listener is closed.
func (l *pipeListener) connect(h windows.Handle) error {
	if err := windows.ResetEvent(l.connEvent); err != nil {
		return fmt.Errorf("reset event: %w", err)
	}
	l.ov = windows.Overlapped{HEvent: l.connEvent}
	err := windows.ConnectNamedPipe(h, &l.ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
		return nil
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return fmt.Errorf("connect pipe: %w", err)
	}
	ev, err := windows.WaitForMultipleObjects([]windows.Handle{l.connEvent, l.closeEvent}, false, windows.INFINITE)
	var n uint32
	if err != nil || ev != windows.WAIT_OBJECT_0 {
		// Closed, or the wait failed: cancel, and wait for the cancellation so the
		// kernel is done with l.ov.
		windows.CancelIoEx(h, &l.ov)
		windows.GetOverlappedResult(h, &l.ov, &n, true)
		if err != nil {
			return fmt.Errorf("wait for client: %w", err)
		}
		return net.ErrClosed
	}
	if err := windows.GetOverlappedResult(h, &l.ov, &n, false); err != nil && !errors.Is(err, windows.ERROR_PIPE_CONNECTED) {
		return fmt.Errorf("connect pipe: %w", err)
	}
	return nil
}

func (l *pipeListener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: "pipe", Addr: l.Addr(), Err: err}
}

// Close stops the listener, waking a waiting Accept, and frees the pipe's name once
// no connection is left on it.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "pipe", Addr: l.Addr(), Err: net.ErrClosed}
	}
	l.closed = true
	h := l.next
	l.next = windows.InvalidHandle
	l.mu.Unlock()

	windows.SetEvent(l.closeEvent)
	if h != windows.InvalidHandle {
		windows.CloseHandle(h)
	}
	// Wait for a running Accept to see the event before closing the events.
	l.acceptMu.Lock()
	windows.CloseHandle(l.connEvent)
	windows.CloseHandle(l.closeEvent)
	l.acceptMu.Unlock()
	return nil
}

// Addr returns the pipe's path.
func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.path) }

func dial(ctx context.Context, path string) (net.Conn, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	// SECURITY_IDENTIFICATION lets the server learn who we are but not act as us,
	// whoever the server turns out to be.
	attrs := uint32(windows.FILE_FLAG_OVERLAPPED | windows.SECURITY_SQOS_PRESENT | windows.SECURITY_IDENTIFICATION)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := windows.CreateFile(name, clientAccess, 0, nil, windows.OPEN_EXISTING, attrs, 0)
		if err == nil {
			return newPipeConn(h, path, false), nil
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, fmt.Errorf("open pipe: %w", err)
		}
		// Every instance is taken; the service makes another as it accepts.
		t := time.NewTimer(dialRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// pipeConn is one end of a connected pipe instance.
type pipeConn struct {
	f      *os.File
	path   string
	server bool

	mu   sync.Mutex
	user *peercred.User // the client's account, once found
}

func newPipeConn(h windows.Handle, path string, server bool) *pipeConn {
	return &pipeConn{f: os.NewFile(uintptr(h), path), path: path, server: server}
}

func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	return n, c.opError("read", err)
}

func (c *pipeConn) Write(b []byte) (int, error) {
	n, err := c.f.Write(b)
	return n, c.opError("write", err)
}

func (c *pipeConn) Close() error { return c.opError("close", c.f.Close()) }

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.path) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.path) }

func (c *pipeConn) SetDeadline(t time.Time) error {
	return c.opError("set deadline", c.f.SetDeadline(t))
}

func (c *pipeConn) SetReadDeadline(t time.Time) error {
	return c.opError("set deadline", c.f.SetReadDeadline(t))
}

func (c *pipeConn) SetWriteDeadline(t time.Time) error {
	return c.opError("set deadline", c.f.SetWriteDeadline(t))
}

// opError gives err the shape net.Conn users expect: io.EOF as it is, net.ErrClosed
// for a closed connection, and a *net.OpError, which reports timeouts, otherwise.
func (c *pipeConn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "pipe", Addr: pipeAddr(c.path), Err: err}
}

// control runs f on the pipe handle, which stays open meanwhile.
func (c *pipeConn) control(f func(h windows.Handle)) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { f(windows.Handle(fd)) })
}

// clientUser returns the account of the client of a server end, found once by
// impersonating the client and reading the thread's token.
func (c *pipeConn) clientUser() (peercred.User, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != nil {
		return *c.user, nil
	}
	var u peercred.User
	var uerr error
	if err := c.control(func(h windows.Handle) { u, uerr = impersonatedUser(h) }); err != nil {
		return peercred.User{}, err
	}
	if uerr != nil {
		return peercred.User{}, uerr
	}
	c.user = &u
	return u, nil
}

// impersonatedUser impersonates the client of pipe h on a thread of its own, reads the
// user from the thread's token, and reverts. A thread that fails to revert is never
// unlocked, so the runtime ends it rather than run other code as the client.
func impersonatedUser(h windows.Handle) (peercred.User, error) {
	type result struct {
		u   peercred.User
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		u, reverted, err := impersonateAndRead(h)
		ch <- result{u, err}
		if reverted {
			runtime.UnlockOSThread()
		}
	}()
	r := <-ch
	return r.u, r.err
}

// impersonateAndRead does the work of impersonatedUser on the locked thread; reverted
// reports whether the thread is itself again.
func impersonateAndRead(h windows.Handle) (u peercred.User, reverted bool, err error) {
	if err := procImpersonateNamedPipeClient.Find(); err != nil {
		return u, true, fmt.Errorf("impersonate pipe client: %w", err)
	}
	if r, _, e := procImpersonateNamedPipeClient.Call(uintptr(h)); r == 0 {
		if errors.Is(e, windows.ERROR_CANNOT_IMPERSONATE) {
			return u, true, fmt.Errorf("impersonate pipe client: nothing read from the client yet: %w", e)
		}
		return u, true, fmt.Errorf("impersonate pipe client: %w", e)
	}
	var tok windows.Token
	// openAsSelf: the client may allow identification only, and the token is
	// opened with the service's own rights.
	terr := windows.OpenThreadToken(windows.CurrentThread(), windows.TOKEN_QUERY, true, &tok)
	if err := windows.RevertToSelf(); err != nil {
		if terr == nil {
			tok.Close()
		}
		return u, false, fmt.Errorf("revert to self: %w", err)
	}
	if terr != nil {
		return u, true, fmt.Errorf("open client token: %w", terr)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return u, true, fmt.Errorf("read client token user: %w", err)
	}
	return peercred.User{ID: tu.User.Sid.String()}, true, nil
}

func peerUser(c net.Conn) (peercred.User, error) {
	pc, err := connOf[*pipeConn](c)
	if err != nil {
		return peercred.User{}, err
	}
	if !pc.server {
		return peercred.User{}, fmt.Errorf("the client end of a pipe cannot ask who the server is: %w", ErrUnsupported)
	}
	return pc.clientUser()
}

func peerPID(c net.Conn) (int, error) {
	pc, err := connOf[*pipeConn](c)
	if err != nil {
		return 0, err
	}
	var pid uint32
	var perr error
	if err := pc.control(func(h windows.Handle) {
		if pc.server {
			perr = windows.GetNamedPipeClientProcessId(h, &pid)
		} else {
			perr = windows.GetNamedPipeServerProcessId(h, &pid)
		}
	}); err != nil {
		return 0, err
	}
	if perr != nil {
		return 0, fmt.Errorf("get pipe process id: %w", perr)
	}
	return int(pid), nil
}

// peerClosed: the other end of the pipe closed it (reads of such a pipe
// end in io.EOF; writes fail so).
func peerClosed(err error) bool {
	return errors.Is(err, windows.ERROR_BROKEN_PIPE) || errors.Is(err, windows.ERROR_NO_DATA) || errors.Is(err, windows.ERROR_PIPE_NOT_CONNECTED)
}
