package localsock

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/internal/wine"
	"github.com/cardbridge/cardbridge/peercred"
	"golang.org/x/sys/windows"
)

func TestPeerUserAndPID(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	l, path := listenT(t)
	c := NewConn(dialT(t, path))
	s := NewConn(acceptT(t, l))
	// Before anything is read, as the port service asks, and after.
	u, err := PeerUser(s.NetConn())
	if err != nil || u != me {
		t.Errorf("PeerUser before reading = %v, %v; want %v", u, err, me)
	}
	if err := c.Send(msg{Op: "register"}, wait); err != nil {
		t.Fatal(err)
	}
	var got msg
	if err := s.Recv(&got, wait); err != nil {
		t.Fatal(err)
	}
	s.NetConn().(*pipeConn).user = nil // ask the OS again, not the cache
	u, err = PeerUser(s.NetConn())
	if err != nil || u != me {
		t.Errorf("PeerUser after reading = %v, %v; want %v", u, err, me)
	}
	for name, conn := range map[string]*Conn{"server": s, "client": c} {
		pid, err := PeerPID(conn.NetConn())
		if err != nil || pid != os.Getpid() {
			t.Errorf("%s: PeerPID = %d, %v; want %d", name, pid, err, os.Getpid())
		}
	}
	if _, err := PeerUser(c.NetConn()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("PeerUser on the client end = %v, want ErrUnsupported", err)
	}
}

func TestListenInUse(t *testing.T) {
	_, path := listenT(t)
	l2, err := Listen(path)
	if err == nil {
		l2.Close()
		wine.Lacks(t, "CreateNamedPipe ignores FILE_FLAG_FIRST_PIPE_INSTANCE, so a second server of the same pipe is not refused")
		t.Fatal("second Listen on a live pipe succeeded")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "another port service is listening on "+path) {
		t.Fatalf("Listen = %v, want ErrInUse naming %s", err, path)
	}
}

func TestPipeSecurityDescriptor(t *testing.T) {
	sd, err := windows.SecurityDescriptorFromString(pipeSDDL)
	if err != nil {
		t.Fatalf("parse %s: %v", pipeSDDL, err)
	}
	if !sd.IsValid() {
		t.Fatal("security descriptor is not valid")
	}
}

func TestDefaultPath(t *testing.T) {
	if DefaultPath != `\\.\pipe\cardbridge-portservice` {
		t.Errorf("DefaultPath = %q", DefaultPath)
	}
}
