//go:build linux && cgo

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fdStore does for a benchmark's port service what systemd's file
// descriptor store does for the installed one (FileDescriptorStoreMax= in
// its unit): it takes the sockets the service sends with FDSTORE=1 on
// NOTIFY_SOCKET, drops those named by FDSTOREREMOVE=1, and passes the rest
// to the next run by the socket-activation protocol (LISTEN_PID,
// LISTEN_FDS, LISTEN_FDNAMES, descriptors from 3). The package test proves
// the service against systemd itself; this stands in for it where a
// benchmark restarts the service by hand.
type fdStore struct {
	path string // the notification socket, a datagram socket

	mu    sync.Mutex
	files map[string][]*os.File
	done  chan struct{}
}

// newFDStore listens on a notification socket in dir until b ends.
func newFDStore(b testing.TB, dir string) *fdStore {
	b.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "notify")
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		b.Fatal(err)
	}
	s := &fdStore{path: path, files: map[string][]*os.File{}, done: make(chan struct{})}
	go s.receive(fd)
	b.Cleanup(func() {
		_ = syscall.Shutdown(fd, syscall.SHUT_RDWR)
		<-s.done
		syscall.Close(fd)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, fs := range s.files {
			for _, f := range fs {
				f.Close()
			}
		}
	})
	return s
}

// receive takes messages until the socket is shut down.
func (s *fdStore) receive(fd int) {
	defer close(s.done)
	buf, oob := make([]byte, 4096), make([]byte, syscall.CmsgSpace(64*4))
	for {
		n, oobn, _, _, err := syscall.Recvmsg(fd, buf, oob, syscall.MSG_CMSG_CLOEXEC)
		if err != nil || n == 0 && oobn == 0 {
			return
		}
		var fds []int
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for i := range msgs {
				if got, err := syscall.ParseUnixRights(&msgs[i]); err == nil {
					fds = append(fds, got...)
				}
			}
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				fields[k] = v
			}
		}
		name := fields["FDNAME"]
		s.mu.Lock()
		switch {
		case fields["FDSTORE"] == "1":
			for _, fd := range fds {
				s.files[name] = append(s.files[name], os.NewFile(uintptr(fd), name))
			}
			fds = nil
		case fields["FDSTOREREMOVE"] == "1":
			for _, f := range s.files[name] {
				f.Close()
			}
			delete(s.files, name)
		}
		s.mu.Unlock()
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
}

// kept is how many sockets the store holds.
func (s *fdStore) kept() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, fs := range s.files {
		n += len(fs)
	}
	return n
}

// pass makes cmd a start of the service as systemd makes it: the kept
// sockets from descriptor 3 with their names, and LISTEN_PID set to the
// process's own pid (a shell sets it and execs the service in its place).
func (s *fdStore) pass(cmd *exec.Cmd) *exec.Cmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	var files []*os.File
	for name, fs := range s.files {
		for _, f := range fs {
			names = append(names, name)
			files = append(files, f)
		}
	}
	out := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)...)
	out.Env = append(append([]string(nil), cmd.Env...),
		"LISTEN_FDS="+strconv.Itoa(len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	out.ExtraFiles = files
	out.Stdout, out.Stderr, out.SysProcAttr = cmd.Stdout, cmd.Stderr, cmd.SysProcAttr
	return out
}
