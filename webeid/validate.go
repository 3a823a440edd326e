package webeid

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
)

// Bounds on the inputs of a token.
const (
	minNonceLen  = 44  // Base64 of 32 bytes, the entropy a Web eID server puts in a nonce
	maxNonceLen  = 128 // Base64 of 96 bytes
	maxOriginLen = 512 // longer than any scheme, 253-character host name and port
	maxLabelLen  = 63  // a DNS label
	maxHostLen   = 253 // a DNS name
)

// ValidateNonce checks that nonce is 44 to 128 characters of standard or URL-safe Base64,
// the challenge a Web eID server issues; a failure wraps ErrInvalidInput.
//
// Padding is optional but, when present, must be one or two '=' at the end of a length that
// is a multiple of four. The two alphabets cannot be mixed in one nonce.
func ValidateNonce(nonce string) error {
	n := len(nonce)
	if n < minNonceLen || n > maxNonceLen {
		return invalid("validate nonce: nonce is %d characters, want %d to %d", n, minNonceLen, maxNonceLen)
	}
	for i := 0; i < n; i++ {
		if c := nonce[i]; !isBase64Char(c) && c != '=' {
			return invalid("validate nonce: %q at offset %d is not a Base64 character", c, i)
		}
	}
	body := strings.TrimRight(nonce, "=")
	pad := n - len(body)
	switch {
	case strings.Contains(body, "="):
		return invalid("validate nonce: '=' padding before the end")
	case pad > 2:
		return invalid("validate nonce: %d '=' padding characters, want at most 2", pad)
	case pad > 0 && n%4 != 0:
		return invalid("validate nonce: padded nonce of %d characters is not a multiple of 4", n)
	}
	standard := strings.ContainsAny(body, "+/")
	urlSafe := strings.ContainsAny(body, "-_")
	if standard && urlSafe {
		return invalid("validate nonce: mixes the standard (+/) and URL-safe (-_) Base64 alphabets")
	}
	enc := base64.StdEncoding
	if urlSafe {
		enc = base64.URLEncoding
	}
	if pad == 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	if _, err := enc.DecodeString(nonce); err != nil {
		return invalid("validate nonce: not Base64: %v", err)
	}
	return nil
}

// isBase64Char reports whether c is in the standard or the URL-safe Base64 alphabet.
func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_'
}

// ValidateOrigin checks that origin is a web origin as a browser sends it in the Origin
// header: "https://" and a host with an optional port, or "http://localhost[:port]" for
// development; a failure wraps ErrInvalidInput.
//
// The origin must be in the browser's serialisation, because a site compares the signed
// origin byte for byte: lower-case ASCII (IDNs in punycode), no default port, no path, not
// even "/", and no query, fragment or user info. The opaque origin "null" is refused.
func ValidateOrigin(origin string) error {
	switch {
	case origin == "":
		return invalid("validate origin: empty origin")
	case origin == "null":
		return invalid("validate origin: opaque origin \"null\"")
	case len(origin) > maxOriginLen:
		return invalid("validate origin: origin of %d bytes is longer than %d", len(origin), maxOriginLen)
	}
	for i := 0; i < len(origin); i++ {
		if c := origin[i]; c <= ' ' || c >= 0x7F {
			return invalid("validate origin: %q at offset %d is a space, control or non-ASCII character", c, i)
		}
	}
	scheme, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return invalid("validate origin: %q has no scheme", origin)
	}
	defaultPort := ""
	switch scheme {
	case "https":
		defaultPort = "443"
	case "http":
		defaultPort = "80"
	default:
		return invalid("validate origin: scheme %q is not https", scheme)
	}
	if strings.ContainsAny(rest, "/?#@\\") {
		return invalid("validate origin: %q has a path, query, fragment or user info", origin)
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return invalid("validate origin: %q: %v", origin, err)
	}
	if port == defaultPort {
		return invalid("validate origin: %q names the default port %s, which browsers leave out", origin, port)
	}
	if err := checkHost(host); err != nil {
		return invalid("validate origin: %q: %v", origin, err)
	}
	if scheme == "http" && host != "localhost" {
		return invalid("validate origin: %q is not https (plain http is allowed only for localhost)", origin)
	}
	return nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port" and checks the port.
func splitHostPort(s string) (host, port string, err error) {
	host = s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("unclosed '[' in host")
		}
		host, port = s[:end+1], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", "", fmt.Errorf("unexpected %q after IPv6 address", port)
			}
			port = port[1:]
			if port == "" {
				return "", "", fmt.Errorf("empty port")
			}
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if port == "" {
			return "", "", fmt.Errorf("empty port")
		}
	}
	if port != "" {
		if len(port) > 5 || port[0] == '0' {
			return "", "", fmt.Errorf("port %q is not a number from 1 to 65535 without leading zeros", port)
		}
		n := 0
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", "", fmt.Errorf("port %q is not a number", port)
			}
			n = n*10 + int(port[i]-'0')
		}
		if n > 65535 {
			return "", "", fmt.Errorf("port %s is larger than 65535", port)
		}
	}
	return host, port, nil
}

// checkHost accepts a lower-case DNS name, an IPv4 address or a bracketed IPv6 address.
func checkHost(host string) error {
	if host == "" {
		return fmt.Errorf("empty host")
	}
	if strings.HasPrefix(host, "[") {
		addr, err := netip.ParseAddr(strings.TrimSuffix(host[1:], "]"))
		if err != nil || !addr.Is6() || addr.Zone() != "" || "["+addr.String()+"]" != host {
			return fmt.Errorf("host %s is not an IPv6 address in canonical form", host)
		}
		return nil
	}
	if len(host) > maxHostLen {
		return fmt.Errorf("host of %d characters is longer than %d", len(host), maxHostLen)
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" {
			return fmt.Errorf("host %s has an empty label", host)
		}
		if len(label) > maxLabelLen {
			return fmt.Errorf("host %s has a label longer than %d characters", host, maxLabelLen)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				return fmt.Errorf("host %s is not lower case", host)
			default:
				return fmt.Errorf("host %s has %q, not allowed in a host name", host, c)
			}
		}
	}
	return nil
}

// invalid formats a message naming what was wrong and wraps ErrInvalidInput.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidInput)
}
