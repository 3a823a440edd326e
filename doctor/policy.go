package doctor

import (
	"errors"
	"strconv"
	"strings"

	"github.com/cardbridge/cardbridge/policy"
)

// Policies are a browser's policies by name (policy.Values).
type Policies = policy.Values

// readPolicies reads b's policy sources, the highest first, into
// b.Policies; the errors of those that could not be read are joined in
// b.Err. It reports whether b is worth listing: installed, or with policies
// or errors.
func (b *Browser) readPolicies(sources ...func() (Policies, error)) bool {
	b.Policies = Policies{}
	var errs []error
	for _, read := range sources {
		p, err := read()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Policies.Merge(p)
	}
	b.Err = errors.Join(errs...)
	return b.Installed || len(b.Policies) > 0 || b.Err != nil
}

// urlPattern is a Chromium URL pattern as policies such as
// LocalNetworkAccessAllowedForUrls and CookiesAllowedForUrls take them:
// [scheme://][[*.]]host[:port][/path], or "*".
type urlPattern struct {
	scheme     string // "" or "*": any
	host       string // lower case, IPv6 in brackets; "" with anyHost
	anyHost    bool
	subdomains bool   // "[*.]host": host and every name under it
	port       string // "" or "*": any
}

// parseURLPattern parses one pattern; ok is false for nonsense.
func parseURLPattern(s string) (urlPattern, bool) {
	var p urlPattern
	s = strings.TrimSpace(s)
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		p.scheme, s = strings.ToLower(scheme), rest
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if rest, ok := strings.CutPrefix(s, "[*.]"); ok {
		p.subdomains, s = true, rest
	}
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return p, false
		}
		host = s[:end+1]
		if rest := s[end+1:]; rest != "" {
			port, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return p, false
			}
			p.port = port
		}
	} else if h, port, ok := strings.Cut(s, ":"); ok {
		host, p.port = h, port
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	switch host {
	case "":
		return p, false
	case "*":
		p.anyHost = true
	default:
		p.host = host
	}
	return p, true
}

// covers reports whether p matches every origin of scheme://[*.]host:port
// (wildcard: host's subdomains; port 0: the scheme's default).
func (p urlPattern) covers(scheme, host string, wildcard bool, port int) bool {
	if p.scheme != "" && p.scheme != "*" && p.scheme != scheme {
		return false
	}
	if p.port != "" && p.port != "*" {
		if port == 0 {
			port = 443
			if scheme == "http" {
				port = 80
			}
		}
		if p.port != strconv.Itoa(port) {
			return false
		}
	}
	switch {
	case p.anyHost:
		return true
	case p.subdomains:
		return host == p.host || strings.HasSuffix(host, "."+p.host)
	}
	return !wildcard && host == p.host
}

// touches reports whether p matches at least one origin of
// scheme://[*.]host:port, as a block-list pattern that blocks some of a
// wildcard entry's sites does.
func (p urlPattern) touches(scheme, host string, wildcard bool, port int) bool {
	if !wildcard || p.anyHost {
		return p.covers(scheme, host, wildcard, port)
	}
	// A pattern for host or a name under it, on the entry's scheme and port.
	probe := p
	probe.anyHost, probe.subdomains, probe.host = true, false, ""
	if !probe.covers(scheme, host, wildcard, port) {
		return false
	}
	// The entry is the names under host (not host itself).
	if strings.HasSuffix(p.host, "."+host) {
		return true
	}
	return p.subdomains && (p.host == host || strings.HasSuffix(host, "."+p.host))
}

// anyTouches returns the first of patterns that matches some origin of the
// entry, or "".
func anyTouches(patterns []string, scheme, host string, wildcard bool, port int) string {
	for _, s := range patterns {
		if p, ok := parseURLPattern(s); ok && p.touches(scheme, host, wildcard, port) {
			return s
		}
	}
	return ""
}

// anyCovers returns the first of patterns that covers the origin, or "".
func anyCovers(patterns []string, scheme, host string, wildcard bool, port int) string {
	for _, s := range patterns {
		if p, ok := parseURLPattern(s); ok && p.covers(scheme, host, wildcard, port) {
			return s
		}
	}
	return ""
}
