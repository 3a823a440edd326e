package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
)

// homeGet asks for path on the service from the loopback address from
// (127.0.0.x), with Host host (when not ""), without following redirects.
func homeGet(t *testing.T, s *Service, from, host, path string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
			return d.DialContext(ctx, "tcp4", addr)
		},
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", s.Port(), path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHomePageIsEachUsersOwn: GET / on the port service sends the calling
// user to their own agent's status page; a user without an agent, and a
// caller who cannot be identified, get a page that says so and what to do,
// and never another user's port, name or id.
func TestHomePageIsEachUsersOwn(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	myName := ""
	if u, err := user.Current(); err == nil {
		myName = u.Username
	}
	stranger := peercred.User{ID: "uid:4242"}
	fl := &fakeListeners{owners: map[uint16]peercred.User{}}
	var logs testutil.Buffer
	s, socket := runServiceWith(t, &logs, func(opt *Options) {
		opt.Range = portservice.Range{Lo: 57100, Hi: 57109}
		opt.listeners = fl.users
		// Pages from 127.0.0.2 are another user's; from 127.0.0.3, nobody
		// can tell whose.
		opt.peerOwner = func(c net.Conn) (peercred.User, error) {
			switch {
			case strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.2:"):
				return stranger, nil
			case strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.3:"):
				return peercred.User{}, errors.New("no owner")
			}
			return me, nil
		}
	})

	start, doctor := commands()
	noAgent := func(who string, resp *http.Response, page string, status int) {
		t.Helper()
		if resp.StatusCode != status || resp.Header.Get("Location") != "" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: %d %v", who, resp.StatusCode, resp.Header)
		}
		for _, want := range []string{`class="verdict bad"`, "Log off", "<code>" + template.HTMLEscapeString(start) + "</code>", "<code>" + template.HTMLEscapeString(doctor) + "</code>", "helpdesk", `href="/"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %q:\n%s", who, want, page)
			}
		}
		checkPageHeaders(t, resp, page)
	}

	resp, page := homeGet(t, s, "127.0.0.1", "", "/")
	noAgent("no agent yet", resp, page, 200)
	if !strings.Contains(page, "cardbridge is not running for you ("+me.ID) {
		t.Errorf("the page does not name the caller:\n%s", page)
	}

	reg, err := portservice.Register(context.Background(), socket, me)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	fl.set(reg.Port, me)
	if err := reg.Listening(reg.Port); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, want string }{
		{"", fmt.Sprintf("http://127.0.0.1:%d/", reg.Port)},
		{fmt.Sprintf("LocalHost:%d", s.Port()), fmt.Sprintf("http://localhost:%d/", reg.Port)},
	} {
		resp, page := homeGet(t, s, "127.0.0.1", tc.host, "/")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want || !strings.Contains(page, `href="`+tc.want+`"`) {
			t.Errorf("Host %q: %d, Location %q, want %s:\n%s", tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.want, page)
		}
		checkPageHeaders(t, resp, page)
	}

	// Another user, while this user's agent runs: only their own answer.
	resp, page = homeGet(t, s, "127.0.0.2", "", "/")
	noAgent("another user", resp, page, 200)
	if !strings.Contains(page, "not running for you (uid:4242") {
		t.Errorf("the other user's page does not name them:\n%s", page)
	}
	for _, secret := range []string{fmt.Sprint(reg.Port), me.ID, "Location"} {
		if strings.Contains(page, secret) || strings.Contains(fmt.Sprint(resp.Header), secret) {
			t.Errorf("another user's page shows %q:\n%v\n%s", secret, resp.Header, page)
		}
	}
	if myName != "" && myName != "root" && strings.Contains(page, myName) {
		t.Errorf("another user's page names %q", myName)
	}

	resp, page = homeGet(t, s, "127.0.0.3", "", "/")
	noAgent("an unknown caller", resp, page, http.StatusForbidden)
	if !strings.Contains(page, "could not tell which user") || strings.Contains(page, fmt.Sprint(reg.Port)) {
		t.Errorf("an unknown caller's page:\n%s", page)
	}

	// The Guard still stands in front: a rebinding Host, a foreign
	// Origin, other paths.
	if resp, _ := homeGet(t, s, "127.0.0.1", "evil.example", "/"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host evil.example: %d", resp.StatusCode)
	}
	if resp, body := homeGet(t, s, "127.0.0.1", "", "/index.html"); resp.StatusCode != 404 || !strings.Contains(body, "BAD_REQUEST") {
		t.Errorf("/index.html: %d %s", resp.StatusCode, body)
	}
}

// checkPageHeaders checks an HTML answer's security headers and that its
// CSP allows its <style> by hash and nothing else.
func checkPageHeaders(t *testing.T, resp *http.Response, page string) {
	t.Helper()
	start, end := strings.Index(page, "<style>"), strings.Index(page, "</style>")
	if start < 0 || end < start {
		t.Fatalf("no <style>:\n%s", page)
	}
	sum := sha256.Sum256([]byte(page[start+len("<style>") : end]))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if got := resp.Header.Get("Content-Security-Policy"); got != want {
		t.Errorf("CSP %q, want %q", got, want)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" || strings.Contains(page, "<script") {
		t.Errorf("headers %v, or script in the page", resp.Header)
	}
}

func TestAgentStatusURL(t *testing.T) {
	for host, want := range map[string]string{
		"localhost:43487": "http://localhost:55012/",
		"127.0.0.1:43487": "http://127.0.0.1:55012/",
		"[::1]:43487":     "http://[::1]:55012/",
		"":                "http://localhost:55012/",
	} {
		if got := agentStatusURL(host, 55012); got != want {
			t.Errorf("agentStatusURL(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestCommandsFor(t *testing.T) {
	exe := func(p string, err error) func() (string, error) { return func() (string, error) { return p, err } }
	for _, c := range []struct {
		goos, exe     string
		err           error
		start, doctor string
	}{
		{"linux", "/usr/sbin/cardbridge-portservice", nil, "cardbridge agent", "cardbridge doctor"},
		{"darwin", "/usr/local/bin/cardbridge-portservice", nil, "cardbridge agent", "cardbridge doctor"},
		{"windows", `C:\Program Files\cardbridge\cardbridge-portservice.exe`, nil, `"C:\Program Files\cardbridge\cardbridge-supervisor.exe"`, `"C:\Program Files\cardbridge\cardbridge.exe" doctor`},
		{"windows", `D:\Apps\cb\cardbridge-portservice.exe`, nil, `"D:\Apps\cb\cardbridge-supervisor.exe"`, `"D:\Apps\cb\cardbridge.exe" doctor`},
		{"windows", "", errors.New("no path"), `"%ProgramFiles%\cardbridge\cardbridge-supervisor.exe"`, `"%ProgramFiles%\cardbridge\cardbridge.exe" doctor`},
		{"windows", "cardbridge-portservice.exe", nil, `"%ProgramFiles%\cardbridge\cardbridge-supervisor.exe"`, `"%ProgramFiles%\cardbridge\cardbridge.exe" doctor`},
	} {
		start, doctor := commandsFor(c.goos, exe(c.exe, c.err))
		if start != c.start || doctor != c.doctor {
			t.Errorf("commandsFor(%s, %q) = %s, %s; want %s, %s", c.goos, c.exe, start, doctor, c.start, c.doctor)
		}
	}
}

// TestHomeWindowsWords renders the page as the Windows port service does,
// whatever this test runs on: each command is whole, where it is typed.
func TestHomeWindowsWords(t *testing.T) {
	start, doctor := commandsFor("windows", func() (string, error) { return `C:\Program Files\cardbridge\cardbridge-portservice.exe`, nil })
	for _, c := range []struct {
		windows bool
		start   string
		doctor  string
		want    []string
	}{
		{true, start, doctor, []string{
			"press Windows+R, enter <code>&#34;C:\\Program Files\\cardbridge\\cardbridge-supervisor.exe&#34;</code> and press Enter",
			"open a Command Prompt (press Windows+R, enter <code>cmd</code> and press Enter), run <code>&#34;C:\\Program Files\\cardbridge\\cardbridge.exe&#34; doctor</code> in it",
		}},
		{false, "cardbridge agent", "cardbridge doctor", []string{
			"open a terminal and run <code>cardbridge agent</code>",
			"run <code>cardbridge doctor</code> in a terminal and read out",
		}},
	} {
		var b strings.Builder
		if err := homeTmpl.Execute(&b, homeData{Who: "uid:1000 (alice)", Windows: c.windows, Start: c.start, Doctor: c.doctor}); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("windows=%v: the page lacks %q:\n%s", c.windows, w, b.String())
			}
		}
	}
}
