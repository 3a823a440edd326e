package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/pinprompt"
	"github.com/cardbridge/cardbridge/policy"
)

// maxBody bounds what doctor reads of any answer.
const maxBody = 1 << 20

// System is Probes on the real machine.
type System struct {
	local, remote *http.Client
}

// NewSystem returns the real probes.
func NewSystem() *System {
	local := &http.Transport{
		Proxy:             nil, // never through a proxy: loopback only
		DialContext:       dialLoopback,
		DisableKeepAlives: true,
	}
	remote := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: trustedTimeout,
	}
	return &System{
		local: &http.Client{Transport: local, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		remote: &http.Client{Transport: remote},
	}
}

// dialLoopback connects to the port of addr on 127.0.0.1, else on ::1,
// whatever host addr names: local probes never leave the machine.
func dialLoopback(ctx context.Context, _, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err4 := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
	if err4 == nil || ctx.Err() != nil {
		return c, err4
	}
	c, err6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", port))
	if err6 == nil {
		return c, nil
	}
	return nil, err4
}

// Readers lists the PC/SC readers.
func (*System) Readers(ctx context.Context) ([]pcsc.Reader, error) { return pcsc.Readers(ctx) }

// ReadCard reads the identity of the card in r, as `cardbridge card` does.
func (*System) ReadCard(ctx context.Context, r pcsc.Reader) api.Card { return cardinfo.Read(ctx, r) }

// Local GETs http://localhost:port/path on loopback.
func (s *System) Local(ctx context.Context, port int, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.local.Do(req)
	if err != nil {
		var op *net.OpError
		switch {
		case ctx.Err() != nil:
			return 0, nil, fmt.Errorf("port %d: %w", port, ErrNoAnswer)
		case errors.As(err, &op) && op.Op == "dial":
			return 0, nil, fmt.Errorf("port %d: %w", port, ErrNotListening)
		}
		return 0, nil, fmt.Errorf("port %d: %w", port, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("port %d: %w", port, ErrNoAnswer)
		}
		return 0, nil, fmt.Errorf("port %d: %w", port, err)
	}
	return resp.StatusCode, body, nil
}

// Remote GETs url with this user's proxy settings.
func (s *System) Remote(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.remote.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, body, err
}

// Browsers lists the browsers found and their policies.
func (*System) Browsers() []Browser { return findBrowsers() }

// Stat is os.Stat.
func (*System) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }

// ServiceManager is "scm" on Windows, "launchd" on macOS, and on Linux
// "systemd" when it runs (/run/systemd/system exists, as sd_booted checks),
// else "none".
func (*System) ServiceManager() string {
	switch runtime.GOOS {
	case "windows":
		return "scm"
	case "darwin":
		return "launchd"
	}
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return "systemd"
	}
	return "none"
}

// ReadFile reads a regular file of at most 1 MiB.
func (*System) ReadFile(path string) ([]byte, error) { return atomicfile.ReadRegular(path, 1<<20) }

// UserID is the current user's id.
func (*System) UserID() string {
	u, err := peercred.Current()
	if err != nil {
		return ""
	}
	return u.ID
}

// Policies is policy.Load.
func (*System) Policies() *policy.Set { return policy.Load() }

// PINPrompt is pinprompt.Choose.
func (*System) PINPrompt(configured string) (pinprompt.Choice, error) {
	return pinprompt.Choose(configured)
}

// PortHolder asks the OS who listens on 127.0.0.1:port, then [::1]:port:
// the user and, where the OS tells, the process.
func (*System) PortHolder(port int) string {
	for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()} {
		if l, err := peercred.FindListener(netip.AddrPortFrom(a, uint16(port))); err == nil {
			if proc := l.Process(); proc != "" {
				return l.Owner.Describe() + ", " + proc
			}
			return l.Owner.Describe()
		}
	}
	return ""
}
