//go:build linux

package peercred

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// childEnv switches the test binary into a helper process, run as another user or
// to hold more descriptors than one process may: "dial ADDR" connects to ADDR,
// "listen ADDR" listens on ADDR, "dialmany N ADDR" makes N connections to ADDR, "dialfrom LOCAL ADDR" connects to ADDR
// from the local address LOCAL. Each
// prints "ready LOCALADDR", then holds its sockets until its stdin closes.
const childEnv = "PEERCRED_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

func runChild(mode string) int {
	// Never outlive a test run, whatever happens to the parent.
	time.AfterFunc(60*time.Second, func() { os.Exit(3) })
	verb, addr, _ := strings.Cut(mode, " ")
	var local net.Addr
	switch verb {
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		local = c.LocalAddr()
	case "dialmany":
		count, addr, _ := strings.Cut(addr, " ")
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bad count %q\n", count)
			return 2
		}
		for i := range n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				fmt.Fprintf(os.Stderr, "connection %d: %v\n", i, err)
				return 1
			}
			defer c.Close()
			local = c.LocalAddr()
		}
	case "dialfrom":
		from, to, _ := strings.Cut(addr, " ")
		la, err := net.ResolveTCPAddr("tcp", from)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		d := net.Dialer{LocalAddr: la, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", to)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		local = c.LocalAddr()
	case "listen":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer ln.Close()
		local = ln.Addr()
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		return 2
	}
	fmt.Printf("ready %s\n", local)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

const nobody = 65534

// startNobody runs bin as uid and gid 65534 in mode (see childEnv) and returns the
// address it reports. The child is killed when the test ends.
func startNobody(t testing.TB, bin, mode string) netip.AddrPort {
	t.Helper()
	return startChild(t, bin, mode, &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}})
}

// startChild runs bin in mode (see childEnv) as cred, or as us if cred is nil, and
// returns the address it reports. The child is killed when the test ends.
func startChild(t testing.TB, bin, mode string, cred *syscall.Credential) netip.AddrPort {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child as nobody: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		a, ok := strings.CutPrefix(strings.TrimSpace(s), "ready ")
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child %q said %q; stderr: %s", mode, s, stderr.String())
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			t.Fatalf("child %q: %v", mode, err)
		}
		return ap
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child %q did not start; stderr: %s", mode, stderr.String())
	}
	panic("unreachable")
}

// forEachPath runs fn once with sock_diag alone and once with /proc alone.
func forEachPath(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	t.Run("sock_diag", func(t *testing.T) {
		if !diag.usable() {
			t.Skip("sock_diag is not available here")
		}
		forcePath.Store(pathDiag)
		t.Cleanup(func() { forcePath.Store(pathAuto) })
		fn(t)
	})
	t.Run("proc", func(t *testing.T) {
		forcePath.Store(pathProc)
		t.Cleanup(func() { forcePath.Store(pathAuto) })
		fn(t)
	})
}

func me(t testing.TB) User {
	t.Helper()
	u, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// connect dials ln at addr and returns both ends.
func connect(t testing.TB, ln net.Listener, addr string) (client, server *net.TCPConn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func wantUser(t *testing.T, what string, got User, err error, want User) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	} else if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantNotFound(t *testing.T, what string, got User, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%s = %v, %v; want ErrNotFound", what, got, err)
	}
}

// loopbackCases are the ways a loopback connection can look: IPv4, IPv6, and IPv4
// accepted by a dual-stack IPv6 listener, whose end sees IPv4-mapped addresses.
var loopbackCases = []struct {
	name, network, listen, dialHost string
	wantListener                    func(port uint16) netip.AddrPort
}{
	{"ipv4", "tcp4", "127.0.0.1:0", "127.0.0.1", func(p uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), p)
	}},
	{"ipv6", "tcp6", "[::1]:0", "::1", func(p uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.IPv6Loopback(), p)
	}},
	{"dualstack", "tcp", "[::]:0", "127.0.0.1", func(p uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), p)
	}},
}

func TestCurrent(t *testing.T) {
	u, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("uid:%d", os.Geteuid()); u.ID != want || u.String() != want {
		t.Errorf("Current() = %q, want %q", u, want)
	}
}

func TestDiagAvailable(t *testing.T) {
	if !diag.usable() {
		t.Skip("sock_diag is not available here; only the /proc path is tested")
	}
}

// TestPeerSameUser checks both ends of connections and the listener as our own user.
func TestPeerSameUser(t *testing.T) {
	self := me(t)
	for _, tc := range loopbackCases {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t, tc.network, tc.listen)
			port := uint16(ln.Addr().(*net.TCPAddr).Port)
			client, server := connect(t, ln, net.JoinHostPort(tc.dialHost, fmt.Sprint(port)))
			sl, sr := addrPort(t, server.LocalAddr()), addrPort(t, server.RemoteAddr())
			if tc.name == "dualstack" && !sl.Addr().Is4In6() {
				t.Fatalf("accepted end sees %v, want an IPv4-mapped address", sl)
			}
			forEachPath(t, func(t *testing.T) {
				u, err := peerOfConn(t, server)
				wantUser(t, "PeerOf(server end)", u, err, self)
				u, err = peerOfConn(t, client)
				wantUser(t, "PeerOf(client end)", u, err, self)
				u, err = PeerOf(sl, sr)
				wantUser(t, "PeerOf(server local, remote)", u, err, self)
				u, err = PeerOf(sr, sl)
				wantUser(t, "PeerOf(swapped)", u, err, self)
				u, err = PeerOf(normalise(sl), normalise(sr))
				wantUser(t, "PeerOf(unmapped)", u, err, self)

				l, err := FindListener(addrPort(t, ln.Addr()))
				wantUser(t, "FindListener(listener address)", l.Owner, err, self)
				l, err = FindListener(netip.AddrPortFrom(netip.MustParseAddr(tc.dialHost), port))
				if err != nil {
					t.Fatalf("FindListener: %v", err)
				}
				if want := tc.wantListener(port); l.Addr != want || l.Owner != self {
					t.Errorf("FindListener = %+v, want %v owned by %v", l, want, self)
				}
			})
		})
	}
}

// TestPeerGone checks that a closed peer, then one in TIME_WAIT, is not found, and
// that the TIME_WAIT socket's uid 0 is never taken for its owner.
func TestPeerGone(t *testing.T) {
	for _, tc := range loopbackCases[:2] {
		t.Run(tc.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				ln := listen(t, tc.network, tc.listen)
				client, server := connect(t, ln, ln.Addr().String())
				sl, sr := addrPort(t, server.LocalAddr()), addrPort(t, server.RemoteAddr())

				client.Close() // the client's socket is orphaned, in FIN_WAIT2
				u, err := peerOfConn(t, server)
				wantNotFound(t, "PeerOf(server end) after client close", u, err)

				server.Close() // the client's socket moves to TIME_WAIT
				waitProcState(t, sockID{local: normalise(sr), remote: normalise(sl)}, tcpTimeWait)
				u, err = PeerOf(sl, sr)
				wantNotFound(t, "PeerOf in TIME_WAIT", u, err)
				u, err = PeerOf(sr, sl)
				wantNotFound(t, "PeerOf(swapped) after both closed", u, err)
			})
		})
	}
}

// TestPeerResetListenerOpen checks that when the peer's socket is gone without a
// TIME_WAIT trace, the listener on the same port is not taken for it (the kernel's
// exact lookup falls back to listeners).
func TestPeerResetListenerOpen(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		ln := listen(t, "tcp4", "127.0.0.1:0")
		client, server := connect(t, ln, ln.Addr().String())
		server.SetLinger(0)
		server.Close() // RST: the accepted socket is gone at once
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Read(make([]byte, 1)); err == nil {
			t.Fatal("read after reset succeeded")
		}
		u, err := peerOfConn(t, client)
		wantNotFound(t, "PeerOf(client end) after reset", u, err)
		l, err := FindListener(addrPort(t, ln.Addr()))
		wantUser(t, "FindListener", l.Owner, err, me(t))
	})
}

// waitProcState waits until /proc shows the socket id in state st with uid 0 and no
// inode, as TIME_WAIT sockets are shown.
func waitProcState(t *testing.T, id sockID, st uint8) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found *procEntry
		for _, p := range []string{procTCP4, procTCP6} {
			scanProcFile(p, func(e procEntry) bool {
				if id.matches(e.local, e.remote) && e.state == st {
					found = &e
					return false
				}
				return true
			})
		}
		if found != nil {
			if found.uid != 0 || found.inode != 0 {
				t.Fatalf("state %d socket shows uid %d inode %d", st, found.uid, found.inode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket %v never reached state %d", id, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotLoopback checks that addresses off loopback, incomplete or of mixed
// families are refused.
func TestNotLoopback(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct{ local, remote netip.AddrPort }{
		{ap("192.0.2.1:80"), ap("192.0.2.2:5000")},
		{ap("127.0.0.1:80"), ap("192.0.2.2:5000")},
		{ap("[2001:db8::1]:80"), ap("[::1]:5000")},
		{ap("[::ffff:192.0.2.1]:80"), ap("127.0.0.1:5000")},
		{ap("0.0.0.0:80"), ap("127.0.0.1:5000")},
		{ap("127.0.0.1:80"), ap("[::1]:5000")},
		{ap("127.0.0.1:0"), ap("127.0.0.1:5000")},
		{netip.AddrPort{}, ap("127.0.0.1:5000")},
	} {
		if u, err := PeerOf(tc.local, tc.remote); !errors.Is(err, ErrNotFound) {
			t.Errorf("PeerOf(%v, %v) = %v, %v; want ErrNotFound", tc.local, tc.remote, u, err)
		}
	}
	for _, a := range []netip.AddrPort{ap("192.0.2.1:80"), ap("[2001:db8::1]:80"), ap("127.0.0.1:0"), {}} {
		if l, err := FindListener(a); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindListener(%v) = %+v, %v; want ErrNotFound", a, l, err)
		}
	}
	_, err := PeerOf(ap("192.0.2.1:80"), ap("192.0.2.2:5000"))
	if !strings.Contains(err.Error(), "loopback") {
		t.Errorf("error %q does not say why", err)
	}
}

// TestListener checks FindListener's choice between exact, wildcard, IPv4 and IPv6
// listeners.
func TestListener(t *testing.T) {
	self := me(t)
	free := listen(t, "tcp4", "127.0.0.1:0")
	freePort := uint16(free.Addr().(*net.TCPAddr).Port)
	free.Close()

	v6only := listen(t, "tcp6", "[::]:0")
	v6Port := uint16(v6only.Addr().(*net.TCPAddr).Port)

	// An exact and a wildcard IPv4 listener can share a port with SO_REUSEPORT.
	reuse := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return cmp.Or(err, serr)
	}}
	wild, err := reuse.Listen(context.Background(), "tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	sharedPort := uint16(wild.Addr().(*net.TCPAddr).Port)
	exact, err := reuse.Listen(context.Background(), "tcp4", fmt.Sprintf("127.0.0.1:%d", sharedPort))
	if err != nil {
		t.Fatal(err)
	}
	defer exact.Close()

	forEachPath(t, func(t *testing.T) {
		for _, a := range []string{"127.0.0.1", "::1", "0.0.0.0", "::"} {
			l, err := FindListener(netip.AddrPortFrom(netip.MustParseAddr(a), freePort))
			wantNotFound(t, "FindListener(free port on "+a+")", l.Owner, err)
		}

		for in, want := range map[string]string{
			"127.0.0.1": "127.0.0.1", // exact before wildcard
			"127.0.0.2": "0.0.0.0",
			"0.0.0.0":   "0.0.0.0",
		} {
			l, err := FindListener(netip.AddrPortFrom(netip.MustParseAddr(in), sharedPort))
			if err != nil || l.Addr != netip.AddrPortFrom(netip.MustParseAddr(want), sharedPort) || l.Owner != self {
				t.Errorf("FindListener(%s) with listeners on 127.0.0.1 and 0.0.0.0 = %+v, %v; want %s", in, l, err, want)
			}
		}
		l, err := FindListener(netip.AddrPortFrom(netip.IPv6Loopback(), sharedPort))
		wantNotFound(t, "FindListener([::1]) with IPv4 listeners only", l.Owner, err)

		l, err = FindListener(netip.AddrPortFrom(netip.IPv6Loopback(), v6Port))
		if err != nil || l.Addr != netip.AddrPortFrom(netip.IPv6Unspecified(), v6Port) || l.Owner != self {
			t.Errorf("FindListener([::1]) on an IPv6-only wildcard = %+v, %v", l, err)
		}
		l, err = FindListener(netip.AddrPortFrom(netip.IPv6Unspecified(), v6Port))
		if err != nil || l.Owner != self {
			t.Errorf("FindListener([::]) on an IPv6-only wildcard = %+v, %v", l, err)
		}
		l, err = FindListener(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), v6Port))
		if forcePath.Load() == pathDiag {
			// sock_diag says the socket is IPv6-only, so it takes no IPv4.
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("FindListener(127.0.0.1) on an IPv6-only wildcard = %+v, %v; want ErrNotFound", l, err)
			}
		} else if err != nil || l.Addr.Addr() != netip.IPv6Unspecified() {
			// /proc cannot tell, so the wildcard counts.
			t.Errorf("FindListener(127.0.0.1) on an IPv6-only wildcard via /proc = %+v, %v", l, err)
		}
	})
}

// TestListenerWildcardInput checks the wildcard addresses as input.
func TestListenerWildcardInput(t *testing.T) {
	self := me(t)
	ln := listen(t, "tcp", "[::]:0") // dual-stack
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	forEachPath(t, func(t *testing.T) {
		for _, a := range []string{"0.0.0.0", "::", "127.0.0.1", "::1", "::ffff:127.0.0.1"} {
			l, err := FindListener(netip.AddrPortFrom(netip.MustParseAddr(a), port))
			if err != nil || l.Addr != netip.AddrPortFrom(netip.IPv6Unspecified(), port) || l.Owner != self {
				t.Errorf("FindListener(%s) on a dual-stack wildcard = %+v, %v", a, l, err)
			}
		}
	})
}

// TestOtherUser checks connections from, and listeners of, user nobody.
func TestOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as nobody")
	}
	self := me(t)
	them := uidUser(nobody)
	bin := testutil.CopyTestBinary(t, testutil.SharedTempDir(t), "peercred.test")

	type conn struct {
		name   string
		server *net.TCPConn
	}
	var conns []conn
	for _, tc := range loopbackCases {
		ln := listen(t, tc.network, tc.listen)
		port := ln.Addr().(*net.TCPAddr).Port
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		startNobody(t, bin, "dial "+net.JoinHostPort(tc.dialHost, fmt.Sprint(port)))
		select {
		case c := <-accepted:
			if c == nil {
				t.Fatal("accept failed")
			}
			t.Cleanup(func() { c.Close() })
			conns = append(conns, conn{tc.name, c.(*net.TCPConn)})
		case <-time.After(10 * time.Second):
			t.Fatal("child never connected")
		}
	}

	lv4 := startNobody(t, bin, "listen 127.0.0.1:0")
	lv6 := startNobody(t, bin, "listen [::1]:0")
	// Our IPv6 listener on the port of their IPv4 one: a separate socket.
	ours := listen(t, "tcp6", fmt.Sprintf("[::1]:%d", lv4.Port()))

	forEachPath(t, func(t *testing.T) {
		for _, c := range conns {
			u, err := peerOfConn(t, c.server)
			wantUser(t, c.name+": PeerOf(server end)", u, err, them)
			l, r := addrPort(t, c.server.LocalAddr()), addrPort(t, c.server.RemoteAddr())
			u, err = PeerOf(r, l)
			wantUser(t, c.name+": PeerOf(swapped)", u, err, self)
		}
		l, err := FindListener(lv4)
		wantUser(t, "FindListener(their 127.0.0.1)", l.Owner, err, them)
		l, err = FindListener(lv6)
		wantUser(t, "FindListener(their [::1])", l.Owner, err, them)
		l, err = FindListener(addrPort(t, ours.Addr()))
		wantUser(t, "FindListener(our [::1] on their port)", l.Owner, err, self)
	})
}

// TestConcurrent runs lookups from many goroutines at once, for the race detector
// and the reuse of netlink sockets.
func TestConcurrent(t *testing.T) {
	self := me(t)
	ln := listen(t, "tcp4", "127.0.0.1:0")
	_, server := connect(t, ln, ln.Addr().String())
	sl, sr := addrPort(t, server.LocalAddr()), addrPort(t, server.RemoteAddr())
	lnAddr := addrPort(t, ln.Addr())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if u, err := PeerOf(sl, sr); err != nil || u != self {
					errs <- fmt.Errorf("PeerOf = %v, %v", u, err)
					return
				}
				if l, err := FindListener(lnAddr); err != nil || l.Owner != self {
					errs <- fmt.Errorf("FindListener = %+v, %v", l, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFallback checks that, with sock_diag marked unavailable as a sandbox would
// leave it, lookups on the automatic path still answer from /proc.
func TestFallback(t *testing.T) {
	self := me(t)
	ln := listen(t, "tcp4", "127.0.0.1:0")
	_, server := connect(t, ln, ln.Addr().String())
	saved := diag.state.Load()
	diag.state.Store(diagUnavailable)
	t.Cleanup(func() { diag.state.Store(saved) })
	u, err := peerOfConn(t, server)
	wantUser(t, "PeerOf", u, err, self)
	l, err := FindListener(addrPort(t, ln.Addr()))
	wantUser(t, "FindListener", l.Owner, err, self)
}

// TestDiagReadBounded checks that a netlink read with no answer coming gives up.
func TestDiagReadBounded(t *testing.T) {
	s, err := openDiagSock()
	if err != nil {
		t.Skipf("sock_diag is not available here: %v", err)
	}
	defer s.close()
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.recv(time.Now().Add(200 * time.Millisecond))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("recv with nothing sent = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("recv took %v", d)
	}
}

// diagMsgBytes builds a struct inet_diag_msg followed by attrs.
func diagMsgBytes(family, state uint8, local, remote netip.AddrPort, uid, inode uint32, attrs []byte) []byte {
	b := make([]byte, inetDiagMsgLen)
	b[0], b[1] = family, state
	putSockAddr(b[4:], b[8:], local)
	putSockAddr(b[6:], b[24:], remote)
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], inode)
	return append(b, attrs...)
}

func TestParseDiagMsg(t *testing.T) {
	ap := netip.MustParseAddrPort
	attr := func(typ uint16, v byte) []byte {
		a := binary.NativeEndian.AppendUint16(nil, 5)
		a = binary.NativeEndian.AppendUint16(a, typ)
		return append(a, v, 0, 0, 0)
	}
	m, ok := parseDiagMsg(diagMsgBytes(unix.AF_INET, tcpEstablished, ap("127.0.0.1:80"), ap("127.0.0.1:5000"), 1000, 77, nil))
	if !ok || m.local != ap("127.0.0.1:80") || m.remote != ap("127.0.0.1:5000") || m.uid != 1000 || m.inode != 77 || m.state != tcpEstablished || m.v6Only != v6OnlyUnknown {
		t.Errorf("ipv4: %+v, %v", m, ok)
	}
	m, ok = parseDiagMsg(diagMsgBytes(unix.AF_INET6, tcpListen, ap("[::]:80"), ap("[::]:0"), 1, 2,
		append(attr(inetDiagSkV6Only-1, 1), attr(inetDiagSkV6Only, 1)...)))
	if !ok || m.local != ap("[::]:80") || m.v6Only != v6OnlyYes {
		t.Errorf("ipv6 v6only: %+v, %v", m, ok)
	}
	m, ok = parseDiagMsg(diagMsgBytes(unix.AF_INET6, tcpListen, ap("[::]:80"), ap("[::]:0"), 1, 2, attr(inetDiagSkV6Only, 0)))
	if !ok || m.v6Only != v6OnlyNo {
		t.Errorf("ipv6 dual-stack: %+v, %v", m, ok)
	}
	bad := attr(inetDiagSkV6Only, 1)
	bad[0] = 200 // longer than the message
	if m, ok = parseDiagMsg(diagMsgBytes(unix.AF_INET6, tcpListen, ap("[::]:80"), ap("[::]:0"), 1, 2, bad)); !ok || m.v6Only != v6OnlyUnknown {
		t.Errorf("bad attribute: %+v, %v", m, ok)
	}
	if _, ok := parseDiagMsg(make([]byte, inetDiagMsgLen-1)); ok {
		t.Error("short message parsed")
	}
	if _, ok := parseDiagMsg(diagMsgBytes(unix.AF_UNIX, 1, ap("127.0.0.1:80"), ap("127.0.0.1:5000"), 1, 2, nil)); ok {
		t.Error("unknown family parsed")
	}
}

// TestListenerProcess: the process holding a listener is named by its
// command and PID.
func TestListenerProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l, err := FindListener(netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	want := strings.TrimSpace(string(comm)) + " (pid " + strconv.Itoa(os.Getpid()) + ")"
	if got := l.Process(); got != want {
		t.Errorf("Process() = %q, want %q", got, want)
	}
}
