// Command connhog holds open loopback TCP connections for the port service
// benchmark, so that the kernel's socket tables are full while it measures:
// it listens on 127.0.0.1:0, dials -n connections to itself, accepts them,
// prints "ready N ADDR" and holds them until its standard input closes.
//
// With -hold P1,P2,... it instead holds one client socket on each of the
// local ports 127.0.0.1:Pi, connected to a listener of its own and never
// listening, as a user squatting ports of the port service's range does, and
// prints "ready N held P1,P2,...".
//
// Both ends of every connection are set to reset on close (SO_LINGER 0), so
// none lingers in TIME_WAIT after connhog exits, however it exits.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// main holds -n connections (or the -hold ports) until stdin closes, or exits 1
// if it cannot open them.
func main() {
	n := flag.Int("n", 1000, "connections to open and hold")
	hold := flag.String("hold", "", "comma-separated local ports to hold client sockets on, instead of -n connections")
	flag.Parse()
	do := func() error { return run(*n) }
	if *hold != "" {
		do = func() error { return holdPorts(*hold) }
	}
	if err := do(); err != nil {
		fmt.Fprintln(os.Stderr, "connhog:", err)
		os.Exit(1)
	}
}

// run opens n connections, reports readiness and holds them until stdin closes.
func run(n int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()

	accepted := make(chan error, 1)
	servers := make([]*net.TCPConn, 0, n)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				accepted <- fmt.Errorf("accept after %d connections: %w", len(servers), err)
				return
			}
			tc := c.(*net.TCPConn)
			_ = tc.SetLinger(0)
			servers = append(servers, tc)
		}
		accepted <- nil
	}()

	clients := make([]*net.TCPConn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	for range n {
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return fmt.Errorf("dial after %d connections: %w", len(clients), err)
		}
		tc := c.(*net.TCPConn)
		_ = tc.SetLinger(0)
		clients = append(clients, tc)
	}
	select {
	case err := <-accepted:
		if err != nil {
			return err
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the %d connections were not all accepted within 30s", n)
	}
	defer func() {
		for _, c := range servers {
			c.Close()
		}
	}()

	fmt.Printf("ready %d %s\n", n, ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// holdPorts holds a client socket bound to 127.0.0.1:P, connected and not
// listening, for each port P of the comma-separated list, until stdin closes.
func holdPorts(list string) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
		}
	}()
	var ports []string
	for _, f := range strings.Split(list, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("-hold: bad port %q", f)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return fmt.Errorf("hold port %d: %w", p, err)
		}
		tc := c.(*net.TCPConn)
		_ = tc.SetLinger(0)
		defer tc.Close()
		ports = append(ports, strconv.Itoa(p))
	}
	fmt.Printf("ready %d held %s\n", len(ports), strings.Join(ports, ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
