package domainlist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Pattern is one allowed origin from DomainList.txt, exact or wildcard.
type Pattern struct {
	Scheme   string // "https" or "http"
	Host     string // lower-case ASCII (punycode), IPv6 in brackets; without the "*." of a wildcard
	Wildcard bool   // "*.Host": matches one or more labels in front of Host, never Host itself
	Port     int    // 0: the scheme's default port only (443/80); else exactly this port
}

var (
	errEmptyPattern  = errors.New("empty pattern")
	errSpace         = errors.New("white space inside a pattern is not allowed (one pattern per line)")
	errNoScheme      = errors.New(`missing scheme: start the pattern with "https://" (or "http://")`)
	errEmptyScheme   = errors.New(`missing scheme before "://"`)
	errBareStar      = errors.New(`a bare "*" would allow every site and is not allowed`)
	errStarDotOnly   = errors.New(`"*." must be followed by a domain, e.g. "*.spineservices.nhs.uk"`)
	errStarPlace     = errors.New(`"*" is only allowed as a leading "*." in front of a domain`)
	errWildcardIP    = errors.New("a wildcard over an IP address is not allowed")
	errWildcardShort = errors.New(`a wildcard needs at least two labels after "*.", e.g. "*.example.org"`)
	errNoSlashes     = errors.New(`missing "//" after the scheme`)
	errScheme        = errors.New("scheme is not http or https")
	errIDN           = errors.New("host is not a valid internationalised domain name")
	errPunycode      = errors.New("host has a label that is not valid punycode")
	errPublicSuffix  = errors.New("a wildcard over a public suffix would allow sites of unrelated owners")
)

// quotedError is an error whose message quotes part of a pattern; Unwrap
// gives what is wrong without the quote.
type quotedError struct {
	reason error
	msg    string
}

func (e *quotedError) Error() string { return e.msg }
func (e *quotedError) Unwrap() error { return e.reason }

// quotedf returns an error with message format, wrapping reason.
func quotedf(reason error, format string, args ...any) error {
	return &quotedError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// String returns the pattern in canonical DomainList form, e.g. "https://*.spineservices.nhs.uk".
func (p Pattern) String() string {
	var b strings.Builder
	b.Grow(len(p.Scheme) + 3 + 2 + len(p.Host) + 6)
	b.WriteString(p.Scheme)
	b.WriteString("://")
	if p.Wildcard {
		b.WriteString("*.")
	}
	b.WriteString(p.Host)
	if p.Port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Port))
	}
	return b.String()
}

// ParsePattern parses one DomainList pattern such as "https://my.esr.nhs.uk" or
// "https://*.spineservices.nhs.uk:8443". The error says what is wrong; callers
// add the pattern text themselves.
func ParsePattern(s string) (Pattern, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Pattern{}, errEmptyPattern
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return Pattern{}, errSpace
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if before, _, ok := strings.Cut(s, ":"); ok && (asciiEqualFold(before, "https") || asciiEqualFold(before, "http")) {
			return Pattern{}, quotedf(errNoSlashes, `missing "//" after %q`, strings.ToLower(before)+":")
		}
		return Pattern{}, errNoScheme
	}
	var p Pattern
	switch {
	case asciiEqualFold(scheme, "https"):
		p.Scheme = "https"
	case asciiEqualFold(scheme, "http"):
		p.Scheme = "http"
	case scheme == "":
		return Pattern{}, errEmptyScheme
	default:
		return Pattern{}, quotedf(errScheme, "scheme %s is not http or https", quote(scheme))
	}

	// Admins often paste a URL with a trailing "/"; it means the same origin.
	rest = strings.TrimSuffix(rest, "/")
	if strings.HasPrefix(rest, "*.[") {
		return Pattern{}, errWildcardIP
	}
	if err := checkAuthority(rest); err != nil {
		return Pattern{}, err
	}
	hostPart, portPart, hasPort, err := splitHostPort(rest)
	if err != nil {
		return Pattern{}, err
	}
	p.Host, p.Wildcard, err = parsePatternHost(hostPart)
	if err != nil {
		return Pattern{}, err
	}
	if hasPort {
		port, err := parsePort(portPart)
		if err != nil {
			return Pattern{}, fmt.Errorf("%w (got %s)", err, quote(portPart))
		}
		if port != defaultPort(p.Scheme == "https") {
			p.Port = port
		}
	}
	return p, nil
}

// parsePatternHost parses a pattern's host: "*.domain", a domain (Unicode is
// converted to punycode), an IPv4 address or a bracketed IPv6 address.
func parsePatternHost(h string) (host string, wildcard bool, err error) {
	switch {
	case h == "":
		return "", false, errMissingHost
	case h == "*":
		return "", false, errBareStar
	case strings.HasPrefix(h, "*."):
		wildcard, h = true, h[2:]
		if h == "" {
			return "", false, errStarDotOnly
		}
	}
	if strings.IndexByte(h, '*') >= 0 {
		return "", false, errStarPlace
	}
	if strings.HasPrefix(h, "[") {
		if wildcard {
			return "", false, errWildcardIP
		}
		host, err := parseIPv6Host(h)
		if err != nil {
			return "", false, fmt.Errorf("%w: %s", err, quote(h))
		}
		return host, false, nil
	}
	host, err = domainToASCII(h)
	if err != nil {
		return "", false, err
	}
	if endsInNumber(host) {
		if !isIPv4(host) {
			return "", false, fmt.Errorf("%w: %s", errBadIPv4, quote(h))
		}
		if wildcard {
			return "", false, errWildcardIP
		}
		return host, false, nil
	}
	if wildcard {
		if strings.IndexByte(host, '.') < 0 {
			return "", false, errWildcardShort
		}
		if suffix, _ := publicsuffix.PublicSuffix(host); suffix == host {
			return "", false, quotedf(errPublicSuffix, "%q is a public suffix: a wildcard over it would allow sites of unrelated owners", host)
		}
	}
	return host, wildcard, nil
}

// domainToASCII converts a domain name to lower-case ASCII, Unicode labels to
// punycode with the IDNA lookup profile, and checks it is a usable DNS name.
func domainToASCII(h string) (string, error) {
	if !utf8.ValidString(h) {
		return "", errHostInvalidUTF8
	}
	if isASCII(h) {
		h = asciiLower(h)
	} else {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", quotedf(errIDN, "host %s is not a valid domain name: %v", quote(h), err)
		}
		h = a
	}
	if strings.HasSuffix(h, ".") {
		return "", fmt.Errorf("%w: %s", errTrailingDot, quote(h))
	}
	if err := checkLabels(h); err != nil {
		return "", fmt.Errorf("%w: %s", err, quote(h))
	}
	for label := range strings.SplitSeq(h, ".") {
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", quotedf(errHostChar, "character %q is not allowed in a host (want letters, digits, '-' and '.')", c)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%w: %s", errLabelHyphen, quote(label))
		}
		if strings.HasPrefix(label, "xn--") {
			if _, err := idna.Lookup.ToUnicode(label); err != nil {
				return "", quotedf(errPunycode, "host label %s is not valid punycode: %v", quote(label), err)
			}
		}
	}
	return h, nil
}
