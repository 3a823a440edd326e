package domainlist

import "strings"

// The reference matcher the tests hold List.Allows and allowsOrigin to: one
// pattern at a time, written for clarity rather than speed.

// matches reports whether origin is allowed by p: same scheme and port, and the
// same host, or for a wildcard one or more labels in front of p.Host. The
// origin's scheme and host are compared after ASCII lower-casing, with Port 0
// meaning the scheme's default.
func (p Pattern) matches(origin Origin) bool {
	https, port, host, ok := normalizeOrigin(origin)
	if !ok {
		return false
	}
	var phttps bool
	switch p.Scheme {
	case "https":
		phttps = true
	case "http":
	default:
		return false
	}
	pport := p.Port
	if pport == 0 {
		pport = defaultPort(phttps)
	}
	if phttps != https || pport != port {
		return false
	}
	if !p.Wildcard {
		return host == p.Host
	}
	return wildcardMatch(host, p.Host)
}

// wildcardMatch reports whether host is suffix with one or more non-empty labels
// in front of it.
func wildcardMatch(host, suffix string) bool {
	n := len(host) - len(suffix) - 1 // length of the labels in front
	if suffix == "" || n < 1 || host[n] != '.' || host[n+1:] != suffix {
		return false
	}
	prefix := host[:n]
	return prefix[0] != '.' && prefix[n-1] != '.' && !strings.Contains(prefix, "..")
}

// normalizeOrigin brings an Origin that may not come from parseOrigin into the
// form matching uses: ASCII case folded and a missing port defaulted.
func normalizeOrigin(o Origin) (https bool, port int, host string, ok bool) {
	switch {
	case asciiEqualFold(o.Scheme, "https"):
		https = true
	case asciiEqualFold(o.Scheme, "http"):
	default:
		return false, 0, "", false
	}
	port = o.Port
	if port == 0 {
		port = defaultPort(https)
	}
	if port < 1 || port > 65535 || o.Host == "" {
		return false, 0, "", false
	}
	return https, port, asciiLower(o.Host), true
}
