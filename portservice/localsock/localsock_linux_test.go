package localsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
)

// childEnv, when set to a socket path, makes the test binary dial it as a client
// instead of running tests; TestPeerOtherUser starts it so as another user.
const childEnv = "LOCALSOCK_TEST_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		if err := runChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childHello is what the child says about itself.
type childHello struct {
	PID int `json:"pid"`
	UID int `json:"uid"`
}

// runChild dials path, says who it is, and waits for the server's answer.
func runChild(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	nc, err := Dial(ctx, path)
	if err != nil {
		return err
	}
	c := NewConn(nc)
	defer c.Close()
	if err := c.Send(childHello{PID: os.Getpid(), UID: os.Getuid()}, wait); err != nil {
		return err
	}
	var reply msg
	if err := c.Recv(&reply, wait); err != nil {
		return err
	}
	if reply.Op != "ok" {
		return fmt.Errorf("server said %q", reply.Op)
	}
	return nil
}

func TestPeerUserAndPID(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	l, path := listenT(t)
	c := dialT(t, path)
	s := acceptT(t, l)
	// Both ends, and through a Conn's NetConn.
	for name, conn := range map[string]net.Conn{"accepted": s, "dialed": c, "framed": NewConn(s).NetConn()} {
		u, err := PeerUser(conn)
		if err != nil || u != me {
			t.Errorf("%s: PeerUser = %v, %v; want %v", name, u, err, me)
		}
		pid, err := PeerPID(conn)
		if err != nil || pid != os.Getpid() {
			t.Errorf("%s: PeerPID = %d, %v; want %d", name, pid, err, os.Getpid())
		}
	}
}

func TestPeerUserNotLocalSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := PeerUser(a); !errors.Is(err, ErrUnsupported) {
		t.Errorf("PeerUser(net.Pipe) = %v, want ErrUnsupported", err)
	}
	if _, err := PeerPID(nil); err == nil {
		t.Error("PeerPID(nil) succeeded")
	}
}

func TestPeerOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as uid 65534")
	}
	// A directory that uid 65534 can reach, holding the socket and a copy of this
	// test binary (go test builds it in a directory only we can read).
	dir := testutil.SharedTempDir(t)
	bin := testutil.CopyTestBinary(t, dir, "child.test")
	path := filepath.Join(dir, "ps.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	cmd.Env = []string{childEnv + "=" + path}
	var out testutil.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-waited
	}()

	s := acceptT(t, l)
	u, err := PeerUser(s)
	if err != nil || u.ID != "uid:65534" {
		t.Errorf("PeerUser = %v, %v; want uid:65534", u, err)
	}
	pid, err := PeerPID(s)
	if err != nil || pid != cmd.Process.Pid {
		t.Errorf("PeerPID = %d, %v; want the child's %d", pid, err, cmd.Process.Pid)
	}
	c := NewConn(s)
	var hello childHello
	if err := c.Recv(&hello, wait); err != nil {
		t.Fatalf("Recv: %v (child said %q)", err, out.String())
	}
	if hello.UID != 65534 || hello.PID != pid {
		t.Errorf("child says uid %d pid %d; the kernel said %v pid %d", hello.UID, hello.PID, u, pid)
	}
	if err := c.Send(msg{Op: "ok"}, wait); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		waited <- err // for the deferred kill
		if err != nil {
			t.Fatalf("child: %v: %s", err, out.String())
		}
	case <-time.After(wait):
		t.Fatalf("child did not exit: %s", out.String())
	}
}

func TestListenCreatesDirAndSocketModes(t *testing.T) {
	// A umask that would make both unreachable, had Listen not set the modes.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	base := filepath.Dir(testPath(t))
	path := filepath.Join(base, "run", "cardbridge", "portservice.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want srw-rw-rw-", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, want 0755", di.Mode().Perm())
	}
	// Closing removes the socket file.
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after Close: %v", err)
	}
}

func TestListenLive(t *testing.T) {
	_, path := listenT(t)
	l2, err := Listen(path)
	if err == nil {
		l2.Close()
		t.Fatal("second Listen on a live socket succeeded")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "another port service is listening on "+path) {
		t.Fatalf("Listen = %v, want ErrInUse naming %s", err, path)
	}
	// The live service's socket is untouched.
	dialT(t, path)
}

func TestListenStale(t *testing.T) {
	tests := []struct {
		name  string
		leave func(t *testing.T, path string)
	}{
		{"listener closed without unlinking", func(t *testing.T, path string) {
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
		}},
		{"socket bound and closed", func(t *testing.T, path string) {
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer syscall.Close(fd)
			if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testPath(t)
			tt.leave(t, path)
			if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
				t.Fatalf("no stale socket left: %v", err)
			}
			l, err := Listen(path)
			if err != nil {
				t.Fatalf("Listen over a stale socket: %v", err)
			}
			defer l.Close()
			c := dialT(t, path)
			s := acceptT(t, l)
			if err := NewConn(c).Send(msg{Op: "hi"}, wait); err != nil {
				t.Fatal(err)
			}
			var got msg
			if err := NewConn(s).Recv(&got, wait); err != nil || got.Op != "hi" {
				t.Fatalf("Recv = %+v, %v", got, err)
			}
		})
	}
}

func TestListenNotSocket(t *testing.T) {
	path := testPath(t)
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(path)
	if err == nil {
		l.Close()
		t.Fatal("Listen over a regular file succeeded")
	}
	if !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen = %v, want an error saying it is not a socket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("the file was touched: %q, %v", b, err)
	}
}

func TestDialNoServiceNamesThePath(t *testing.T) {
	path := testPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := Dial(ctx, path)
	if err == nil {
		c.Close()
		t.Fatal("Dial with no service succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "localsock: dial "+path) {
		t.Errorf("Dial = %v, want a not-exist error naming the path", err)
	}
}

func TestDefaultPath(t *testing.T) {
	if DefaultPath != "/run/cardbridge/portservice.sock" {
		t.Errorf("DefaultPath = %q", DefaultPath)
	}
}
