package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/localhttp"
)

// storeHandoff stands in for systemd's file descriptor store: it keeps a
// copy of each socket handed to it, as systemd does, and passes them to
// the next run.
type storeHandoff struct {
	mu     sync.Mutex
	given  []keptSocket
	kept   map[string][]*os.File
	forgot []string
	fail   func(name string, n int) error // the error of keeping name's nth socket (nil: none)
}

func (h *storeHandoff) inherited() []keptSocket {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.given
	h.given = nil
	return g
}

func (h *storeHandoff) keep(name string, ln net.Listener) (bool, error) {
	f, err := ln.(*net.TCPListener).File() // a copy, as systemd holds
	if err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		if err := h.fail(name, len(h.kept[name])); err != nil {
			f.Close()
			return false, err
		}
	}
	if h.kept == nil {
		h.kept = map[string][]*os.File{}
	}
	h.kept[name] = append(h.kept[name], f)
	return true, nil
}

func (h *storeHandoff) forget(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forgot = append(h.forgot, name)
	for _, f := range h.kept[name] {
		f.Close()
	}
	delete(h.kept, name)
	return nil
}

// restart passes what the store keeps to the next run, as systemd does
// when the service starts again.
func (h *storeHandoff) restart(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, fs := range h.kept {
		for _, f := range fs {
			ln, err := net.FileListener(f)
			if err != nil {
				t.Fatal(err)
			}
			h.given = append(h.given, keptSocket{name: name, ln: ln})
		}
	}
}

func (h *storeHandoff) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fs := range h.kept {
		for _, f := range fs {
			f.Close()
		}
	}
}

// A page that asks while the port service restarts is answered by the new
// process, not refused: the well-known port's socket, kept by the service
// manager, stays open between the two, and the page's connection waits in
// its queue. The new process serves on the sockets it is given rather
// than binding the port again (which would fail: it is held), and neither
// hands them over again nor keeps those of ports it no longer serves.
func TestRestartKeepsWellKnownSockets(t *testing.T) {
	h := &storeHandoff{}
	defer h.close()
	dir := t.TempDir()
	port, dropped := testutil.FreePort(t), testutil.FreePort(t)
	var logs testutil.Buffer
	opt := Options{StateDir: dir, Ports: []int{port, dropped}, Socket: testSocket(dir), Logger: zerolog.New(&logs), handoff: h}
	opt.Range.Lo, opt.Range.Hi = 57010, 57019
	_, stop := startService(t, opt)
	h.mu.Lock()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range h.kept {
			if !yield(n) {
				return
			}
		}
	})
	h.mu.Unlock()
	if want := []string{keptName(port), keptName(dropped)}; !slices.Equal(names, slices.Sorted(slices.Values(want))) {
		t.Fatalf("handed over %v, want %v", names, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Between the two runs: a page connects and asks.
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatalf("a page connecting while the service restarts: %v", err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /PRS/ConnectPRService HTTP/1.1\r\nHost: localhost:%d\r\n\r\n", port)

	h.restart(t)
	h.given = append(h.given, keptSocket{name: "wellknown-x", err: errors.New("not a TCP listening socket")})
	opt.Ports = []int{port} // dropped is no longer served
	opt.StateDir = t.TempDir()
	opt.Socket = testSocket(opt.StateDir)
	_, stop = startService(t, opt)
	defer stop()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the page that asked during the restart: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"statusCode":200`) {
		t.Errorf("the page that asked during the restart was answered %d %s", resp.StatusCode, body)
	}
	h.mu.Lock()
	forgot, kept := slices.Clone(h.forgot), len(h.kept[keptName(port)])
	h.mu.Unlock()
	if !slices.Contains(forgot, keptName(dropped)) || !slices.Contains(forgot, "wellknown-x") || slices.Contains(forgot, keptName(port)) {
		t.Errorf("forgot %v, want %s and wellknown-x", forgot, keptName(dropped))
	}
	if kept == 0 {
		t.Errorf("the served port's sockets are no longer kept")
	}
	// The dropped port is free: nothing holds it any more.
	if err := localhttp.CanBind(dropped); err != nil {
		t.Errorf("the port no longer served is still held: %v", err)
	}
	if !strings.Contains(logs.String(), "not a well-known port this service serves") {
		t.Errorf("closing the kept sockets was not logged:\n%s", logs.String())
	}
}

// systemd's side of the store, as the protocol gives it: FDSTORE=1 and
// FDNAME= on the notification socket, with the descriptor attached;
// FDSTOREREMOVE=1 to drop it.
func TestSystemdHandoffSends(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	lns, err := localhttp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lns[0].Close()
	ok, err := newHandoff().keep("wellknown-1", lns[0])
	if !ok || err != nil {
		t.Fatalf("keep = %v, %v", ok, err)
	}
	buf, oob := make([]byte, 256), make([]byte, 256)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := pc.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "FDSTORE=1\nFDNAME=wellknown-1" {
		t.Errorf("sent %q", got)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v, %v", msgs, err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("descriptors %v, %v", fds, err)
	}
	f := os.NewFile(uintptr(fds[0]), "kept")
	defer f.Close()
	got, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Addr().String() != lns[0].Addr().String() {
		t.Errorf("sent the socket of %v, want %v", got.Addr(), lns[0].Addr())
	}

	if err := newHandoff().forget("wellknown-1"); err != nil {
		t.Fatal(err)
	}
	n, _, _, _, err = pc.ReadMsgUnix(buf, oob)
	if err != nil || string(buf[:n]) != "FDSTOREREMOVE=1\nFDNAME=wellknown-1" {
		t.Errorf("forget sent %q (%v)", buf[:n], err)
	}

	// Not under systemd: nothing to keep, and no error.
	t.Setenv("NOTIFY_SOCKET", "")
	if ok, err := newHandoff().keep("wellknown-1", lns[0]); ok || err != nil {
		t.Errorf("keep without systemd = %v, %v", ok, err)
	}
}

// The sockets systemd passes in (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES,
// descriptors from 3) come back with their names; one that is not a TCP
// listening socket comes back with an error. The protocol needs the
// process's own pid, so a child test reads them.
func TestSystemdHandoffReceives(t *testing.T) {
	if os.Getenv("CARDBRIDGE_HANDOFF_CHILD") == "1" {
		for _, k := range newHandoff().inherited() {
			addr := ""
			if k.ln != nil {
				addr = k.ln.Addr().String()
			}
			fmt.Printf("%s %s %v\n", k.name, addr, k.err != nil)
		}
		return
	}
	lns, err := localhttp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lns[0].Close()
	lf, err := lns[0].(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	other, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" -test.run '^TestSystemdHandoffReceives$'`, os.Args[0])
	cmd.Env = append(os.Environ(), "CARDBRIDGE_HANDOFF_CHILD=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=wellknown-7:devnull")
	cmd.ExtraFiles = []*os.File{lf, other}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := fmt.Sprintf("wellknown-7 %s false\ndevnull  true\n", lns[0].Addr())
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("the child was given:\n%s\nwant:\n%s", out, want)
	}
}

// A port whose sockets cannot all be kept is kept not at all, so that the
// next run listens on it afresh (on IPv6 too) rather than serving only the
// half it was given.
func TestKeepListeningAllOrNothing(t *testing.T) {
	h := &storeHandoff{fail: func(name string, n int) error {
		if n == 1 {
			return errors.New("no room")
		}
		return nil
	}}
	defer h.close()
	var lns []net.Listener
	for range 2 {
		l, err := localhttp.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l[0].Close()
		lns = append(lns, l[0])
	}
	var logs testutil.Buffer
	keepListening(h, 4321, lns, zerolog.New(&logs))
	if n := len(h.kept[keptName(4321)]); n != 0 || !slices.Equal(h.forgot, []string{keptName(4321)}) {
		t.Errorf("%d sockets kept, forgot %v; want none kept and %s forgotten", n, h.forgot, keptName(4321))
	}
	if !strings.Contains(logs.String(), "no room") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}
