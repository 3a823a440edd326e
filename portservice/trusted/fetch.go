package trusted

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/version"
)

// Limits on what the trusted URL may send.
const (
	maxVersionInfo = 64 << 10 // bytes of /api/versioninfo
	maxListSize    = 1 << 20  // bytes of /api/domainlist
	maxVersionLen  = 256      // bytes in a version string, as DomainList's "# version: V" allows
	maxLineLen     = 2048     // bytes in a DomainList line, as domainlist.Parse allows
	maxRedirects   = 3
	clientTimeout  = 30 * time.Second
)

var (
	errTooLarge      = errors.New("answer is too large")
	errNotObject     = errors.New("not a JSON object")
	errNoLatest      = errors.New("no latestVersion")
	errNotDomainList = errors.New("not a DomainList")
	errCorrupt       = errors.New("domain list looks corrupt")
	errNoEntries     = errors.New("domain list has no valid entries")
	errOtherHost     = errors.New("redirect to another host refused")
	errTooManyHops   = errors.New("too many redirects")
)

// parseBaseURL checks the --trusted-url value and returns it without a
// trailing "/".
func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("trusted url: no url given")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("trusted url: %w", err)
	}
	why := ""
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		why = "scheme must be https"
	case u.Host == "" || u.Hostname() == "":
		why = "no host"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		why = "http is allowed only for a loopback host; use https"
	case u.User != nil:
		why = "a user name or password in the url is not allowed"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		why = "a query or fragment is not allowed"
	}
	if why != "" {
		return nil, fmt.Errorf("trusted url %q: %s", u.Redacted(), why)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("trusted url %q: bad port %q", u.Redacted(), p)
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultClient is the client used when Options.Client is nil.
func defaultClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
	return &http.Client{Transport: t, Timeout: clientTimeout, CheckRedirect: checkRedirect}
}

// checkRedirect follows at most maxRedirects redirects, each to the scheme,
// host and port of the first request.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("follow redirect: %w (more than %d)", errTooManyHops, maxRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Hostname(), first.Hostname()) ||
		portOf(req.URL) != portOf(first) {
		return fmt.Errorf("follow redirect to %q: %w", req.URL.Scheme+"://"+req.URL.Host, errOtherHost)
	}
	return nil
}

// portOf returns u's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// get fetches base/api/<name> and returns its body, at most limit bytes, and
// its Content-Type. The answer must have status 200.
func (r *Refresher) get(ctx context.Context, name, accept string, limit int) ([]byte, string, error) {
	u := r.base.JoinPath("api", name).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "cardbridge-portservice/"+version.Version)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("status %d %s", resp.StatusCode, cmp.Or(http.StatusText(resp.StatusCode), "(unknown)"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, "", fmt.Errorf("read body: %w", err)
	}
	if len(body) > limit {
		return nil, "", fmt.Errorf("%w: more than %d KiB", errTooLarge, limit>>10)
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// versionInfo is the answer of <url>/api/versioninfo.
type versionInfo struct {
	LatestVersion     string
	DomainListVersion string
}

// fetchVersionInfo fetches and checks <url>/api/versioninfo.
func (r *Refresher) fetchVersionInfo(ctx context.Context) (*versionInfo, error) {
	body, _, err := r.get(ctx, "versioninfo", "application/json", maxVersionInfo)
	if err != nil {
		return nil, fmt.Errorf("fetch versioninfo: %w", err)
	}
	vi, err := parseVersionInfo(body)
	if err != nil {
		return nil, fmt.Errorf("parse versioninfo: %w", err)
	}
	return vi, nil
}

// parseVersionInfo reads {"latestVersion":"1.4.2","domainListVersion":"V"},
// ignoring other members; domainListVersion may be missing or null.
func parseVersionInfo(body []byte) (*versionInfo, error) {
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, fmt.Errorf("%w: found a JSON %s", errNotObject, ute.Value)
		}
		return nil, fmt.Errorf("%w: %w", errNotObject, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: found null", errNotObject)
	}
	var vi versionInfo
	for _, f := range []struct {
		name string
		v    *string
	}{{"latestVersion", &vi.LatestVersion}, {"domainListVersion", &vi.DomainListVersion}} {
		raw, ok := obj[f.name]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s is not a string", f.name)
		}
		s = strings.TrimSpace(s)
		if err := checkVersionString(s); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.v = s
	}
	if vi.LatestVersion == "" {
		return nil, errNoLatest
	}
	return &vi, nil
}

// checkVersionString accepts a version short enough and printable enough for
// a DomainList version line, a log and a status page.
func checkVersionString(s string) error {
	if len(s) > maxVersionLen {
		return fmt.Errorf("longer than %d bytes", maxVersionLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("unprintable character %U", c)
		}
	}
	return nil
}

// fetchList fetches <url>/api/domainlist and refuses an HTML page.
func (r *Refresher) fetchList(ctx context.Context) ([]byte, error) {
	body, ctype, err := r.get(ctx, "domainlist", "text/plain", maxListSize)
	if err != nil {
		return nil, fmt.Errorf("fetch domain list: %w", err)
	}
	if mt, _, err := mime.ParseMediaType(ctype); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
		return nil, fmt.Errorf("fetch domain list: %w: the answer is %s", errNotDomainList, mt)
	}
	rest := bytes.TrimLeftFunc(bytes.TrimPrefix(body, []byte("\ufeff")), unicode.IsSpace)
	if len(rest) > 0 && rest[0] == '<' {
		return nil, fmt.Errorf("fetch domain list: %w: the answer looks like HTML", errNotDomainList)
	}
	return body, nil
}

// parseList parses a fetched list, logging each bad line. It refuses a list
// without entries or with more bad lines than good ones, and gives a list
// without a version the version named by versioninfo.
func (r *Refresher) parseList(raw []byte, version string) (*domainlist.List, error) {
	list, errs := domainlist.Parse(raw)
	for _, e := range errs {
		r.log.Warn().Int("line", e.Line).Str("reason", e.Reason()).Msg("trusted url: skipped a bad line of the fetched domain list")
	}
	lines, bad := countLines(raw)
	if bad*2 > lines {
		return nil, fmt.Errorf("parse domain list: %w: %d of %d lines are bad", errCorrupt, bad, lines)
	}
	if list.Len() == 0 {
		return nil, fmt.Errorf("parse domain list: %w", errNoEntries)
	}
	if list.Version() != "" || version == "" {
		if version != "" && list.Version() != version {
			r.log.Info().Str("listVersion", list.Version()).Str("versioninfo", version).
				Msg("trusted url: the domain list names a version other than versioninfo's; using the list's")
		}
		return list, nil
	}
	named, _ := domainlist.Parse(append([]byte("# version: "+version+"\n"), list.Format()...))
	if named.Version() != version || named.Len() != list.Len() {
		return nil, fmt.Errorf("parse domain list: cannot give it version %q", version)
	}
	return named, nil
}

// countLines counts the lines of a DomainList that are neither blank nor
// comments, and how many of them domainlist.Parse skips as bad.
func countLines(data []byte) (lines, bad int) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		line := bytes.TrimSpace(raw)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		lines++
		text, _, _ := bytes.Cut(line, []byte("#"))
		if len(raw) > maxLineLen {
			bad++
		} else if _, err := domainlist.ParsePattern(string(text)); err != nil {
			bad++
		}
	}
	return lines, bad
}
