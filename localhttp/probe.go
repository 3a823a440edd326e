package localhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/api"
)

// CanBind checks that a listener could be opened on port on 127.0.0.1 and
// [::1] now, the way Listen("localhost:P") opens them, by opening and closing
// both. A host without IPv6 loopback is checked on 127.0.0.1 alone. A port
// another socket holds (a listener, a client socket bound to it, a TIME_WAIT
// left by one) fails with an error wrapping ErrPortHeld.
func CanBind(port int) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("test-bind port %d: not a port", port)
	}
	p := strconv.Itoa(port)
	for i, h := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, p))
		if err != nil {
			if i > 0 && noSuchFamily(err) {
				return nil // no IPv6 loopback on this host
			}
			if addrInUse(err) {
				err = fmt.Errorf("%w: %w", ErrPortHeld, err)
			}
			return fmt.Errorf("test-bind %s: %w", net.JoinHostPort(h, p), err)
		}
		ln.Close()
	}
	return nil
}

// FreePort returns a port the OS chooses that is free on 127.0.0.1 and, where
// the host has IPv6 loopback, on [::1], as Listen("localhost:0") finds one;
// the listeners are closed before it returns, so the port is free only as
// long as nobody else takes it.
func FreePort() (int, error) {
	lns, err := listen("localhost:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	port := lns[0].Addr().(*net.TCPAddr).Port
	for _, l := range lns {
		l.Close()
	}
	return port, nil
}

// WhoServes asks whatever listens on the loopback port for its
// /api/versioninfo, as cardbridge's agent and port service answer it, within
// a second; ok is false when nothing answers so. It tells a port held by
// another cardbridge from one held by some other program.
func WhoServes(ctx context.Context, port int) (info api.VersionInfo, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://localhost:%d/api/versioninfo", port), nil)
	if err != nil {
		return info, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return info, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&info) != nil {
		return info, false
	}
	return info, strings.HasPrefix(info.Product, "cardbridge")
}
