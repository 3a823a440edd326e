package loopback

import (
	"net"
	"testing"
)

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:80"} {
		if lns, err := Listen(addr); err == nil {
			for _, l := range lns {
				l.Close()
			}
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	lns, err := Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lns {
		if !l.Addr().(*net.TCPAddr).IP.IsLoopback() {
			t.Errorf("listening on %v", l.Addr())
		}
		l.Close()
	}
}

func TestValidHost(t *testing.T) {
	ci := &connInfo{hosts: [3]string{"localhost:43485", "127.0.0.1:43485", "[::1]:43485"}}
	cases := map[string]bool{
		"localhost:43485": true, "127.0.0.1:43485": true, "[::1]:43485": true, "LocalHost:43485": true,
		"localhost": false, "localhost:43486": false, "127.0.0.2:43485": false, "example.com:43485": false,
		"localhost.:43485": false, "[::ffff:127.0.0.1]:43485": false, "": false, "localhost:43485:1": false,
		"localhost:043485": false, "[::1]:43485 ": false,
	}
	for host, want := range cases {
		if got := ci.validHost(host); got != want {
			t.Errorf("validHost(%q) = %v, want %v", host, got, want)
		}
	}
	if (&connInfo{}).validHost("localhost:0") {
		t.Error("a connection without a known port accepted a Host")
	}
}
