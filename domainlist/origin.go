package domainlist

import (
	"errors"
	"strconv"
	"strings"
)

// Origin is a parsed Origin header: the scheme, host and port of the calling page.
type Origin struct {
	Scheme string // "https" or "http"
	Host   string // lower-case ASCII; IPv6 in brackets, in canonical form
	Port   int    // the port, filled with the scheme's default (443 or 80) when absent
}

var (
	errNullOrigin     = errors.New(`"null" (opaque) origin is never allowed`)
	errEmptyOrigin    = errors.New("empty origin")
	errOriginScheme   = errors.New("scheme is not http or https")
	errOriginNoScheme = errors.New("not an origin (want scheme://host[:port])")
)

// String returns the origin as a browser serialises it, leaving out a default port.
func (o Origin) String() string {
	s := o.Scheme + "://" + o.Host
	if o.Port != 0 && !(o.Scheme == "https" && o.Port == 443) && !(o.Scheme == "http" && o.Port == 80) {
		s += ":" + strconv.Itoa(o.Port)
	}
	return s
}

// parseOrigin parses an Origin header value as browsers send it: scheme://host[:port]
// with an http or https scheme, an ASCII host or a bracketed IPv6 address, and no
// path, trailing "/", user name, query or fragment; "null" is an error. The host is
// lower-cased when lower is set and left alone otherwise. The errors are
// package-level values that say what is wrong; callers add the value. It
// allocates only to lower-case a host.
func parseOrigin(s string, lower bool) (Origin, error) {
	var https bool
	var rest string
	switch {
	case len(s) >= 8 && asciiEqualFold(s[:8], "https://"):
		https, rest = true, s[8:]
	case len(s) >= 7 && asciiEqualFold(s[:7], "http://"):
		rest = s[7:]
	case s == "null":
		return Origin{}, errNullOrigin
	case s == "":
		return Origin{}, errEmptyOrigin
	case strings.Contains(s, "://"):
		return Origin{}, errOriginScheme
	default:
		return Origin{}, errOriginNoScheme
	}
	if err := checkAuthority(rest); err != nil {
		return Origin{}, err
	}
	host, portStr, hasPort, err := splitHostPort(rest)
	if err != nil {
		return Origin{}, err
	}
	if host == "" {
		return Origin{}, errMissingHost
	}
	port := defaultPort(https)
	if hasPort {
		if port, err = parsePort(portStr); err != nil {
			return Origin{}, err
		}
	}
	if host[0] == '[' {
		host, err = parseIPv6Host(host)
	} else {
		host, err = checkOriginHost(host, lower)
	}
	if err != nil {
		return Origin{}, err
	}
	o := Origin{Scheme: "http", Host: host, Port: port}
	if https {
		o.Scheme = "https"
	}
	return o, nil
}

// checkOriginHost checks the host of an Origin header, which browsers send as
// ASCII (punycode), and lower-cases it if asked to. One trailing dot is accepted: such an
// origin is valid but never matches a pattern.
func checkOriginHost(h string, lower bool) (string, error) {
	upper := false
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			return "", errHostChar
		}
	}
	name := strings.TrimSuffix(h, ".")
	if err := checkLabels(name); err != nil {
		return "", err
	}
	if endsInNumber(name) && (name != h || !isIPv4(name)) {
		return "", errBadIPv4
	}
	if upper && lower {
		h = asciiLower(h)
	}
	return h, nil
}
