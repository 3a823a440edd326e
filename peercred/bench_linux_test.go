//go:build linux

package peercred

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
)

// BenchmarkPeerOf looks up connections among n open loopback connections by each
// path: sock_diag's exact lookup should not depend on n, while /proc reads every
// socket.
func BenchmarkPeerOf(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			raiseNoFile(b, uint64(n+256)) // the client ends are in a child process
			ln := listen(b, "tcp4", "127.0.0.1:0")
			servers := openConns(b, ln, n)
			self := me(b)
			for _, p := range []struct {
				name string
				path int32
			}{{"sock_diag", pathDiag}, {"proc", pathProc}} {
				b.Run(p.name, func(b *testing.B) {
					if p.path == pathDiag && !diag.usable() {
						b.Skip("sock_diag is not available here")
					}
					forcePath.Store(p.path)
					defer forcePath.Store(pathAuto)
					i := 0
					for b.Loop() {
						// Spread lookups over the table, since /proc stops at a match.
						c := servers[i%len(servers)]
						i += 7919
						u, err := peerOfConn(b, c)
						if err != nil || u != self {
							b.Fatalf("PeerOf = %v, %v", u, err)
						}
					}
				})
			}
		})
	}
}

// openConns opens n connections to ln from a child process, so that the two ends
// need not fit under one process's descriptor limit, and returns the accepted ends.
// They are reset when the benchmark ends, so none lingers in TIME_WAIT.
func openConns(b *testing.B, ln net.Listener, n int) []*net.TCPConn {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	servers := make([]*net.TCPConn, 0, n)
	done := make(chan error, 1)
	go func() {
		for range n {
			s, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			servers = append(servers, s.(*net.TCPConn))
		}
		done <- nil
	}()
	b.Cleanup(func() {
		for _, s := range servers {
			s.SetLinger(0)
			s.Close()
		}
	})
	startChild(b, self, fmt.Sprintf("dialmany %d %s", n, ln.Addr()), nil)
	if err := <-done; err != nil {
		b.Fatalf("accept after %d connections: %v", len(servers), err)
	}
	return servers
}

// raiseNoFile raises RLIMIT_NOFILE to at least need, if it may.
func raiseNoFile(b *testing.B, need uint64) {
	b.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= need {
		return
	}
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < need {
		b.Skipf("raise RLIMIT_NOFILE to %d: limit %d, %v", need, lim.Cur, err)
	}
}

// BenchmarkPortLookups compares the port service's two questions about one
// port: who listens on it on loopback (FindListener for 127.0.0.1 and [::1],
// asked at every registration and GetPortNumber), and every socket bound to it
// (BoundSockets), which on Linux walks the kernel's whole table of connections,
// a table sized by the host's memory, however few connections it holds.
func BenchmarkPortLookups(b *testing.B) {
	if !diag.usable() {
		b.Skip("sock_diag is not available here")
	}
	port := freeLoopbackPort(b)
	b.Run("listeners", func(b *testing.B) {
		for b.Loop() {
			for _, a := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
				if _, err := FindListener(netip.AddrPortFrom(a, port)); err != nil && !errors.Is(err, ErrNotFound) {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("bound-sockets", func(b *testing.B) {
		for b.Loop() {
			if _, err := BoundSockets(port, port); err != nil {
				b.Fatal(err)
			}
		}
	})
}
