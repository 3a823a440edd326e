package domainlist

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits from DNS: a host name is at most 253 bytes, a label at most 63.
const (
	maxHostLen  = 253
	maxLabelLen = 63
)

// Errors shared by ParsePattern and parseOrigin. They are package-level values so
// that Allows can reject a bad Origin header without allocating.
var (
	errMissingHost     = errors.New("missing host")
	errPath            = errors.New("a path is not allowed (an origin is only scheme://host[:port])")
	errQuery           = errors.New("a query (?...) is not allowed")
	errFragment        = errors.New("a fragment (#...) is not allowed")
	errBackslash       = errors.New(`a backslash is not allowed`)
	errUserinfo        = errors.New("a user name (user@) is not allowed")
	errNoCloseBracket  = errors.New(`IPv6 address is missing its closing "]"`)
	errAfterBracket    = errors.New(`unexpected text after "]" of IPv6 address (want ":port" or nothing)`)
	errIPv6NoBrackets  = errors.New(`IPv6 address must be in brackets, e.g. "[::1]"`)
	errBadIPv6         = errors.New("invalid IPv6 address")
	errIPv6Zone        = errors.New(`IPv6 zone ("%...") is not allowed`)
	errBadIPv4         = errors.New("invalid IPv4 address (want four decimal numbers 0-255, e.g. 127.0.0.1)")
	errEmptyPort       = errors.New(`missing port number after ":"`)
	errPortNotNumber   = errors.New("port is not a number")
	errPortRange       = errors.New("port out of range 1-65535")
	errEmptyLabel      = errors.New(`host has an empty label (".." or a leading ".")`)
	errTrailingDot     = errors.New(`host must not end with "."`)
	errHostTooLong     = errors.New("host is longer than 253 bytes")
	errLabelTooLong    = errors.New("host has a label longer than 63 bytes")
	errHostChar        = errors.New("host has a character that is not allowed (want letters, digits, '-' and '.')")
	errLabelHyphen     = errors.New(`host has a label that starts or ends with "-"`)
	errHostInvalidUTF8 = errors.New("host is not valid UTF-8")
)

// checkAuthority rejects what may follow an origin's host and port: a path,
// query, fragment, backslash or user name.
func checkAuthority(a string) error {
	if i := strings.IndexAny(a, `/?#\`); i >= 0 {
		switch a[i] {
		case '/':
			return errPath
		case '?':
			return errQuery
		case '#':
			return errFragment
		default:
			return errBackslash
		}
	}
	if strings.IndexByte(a, '@') >= 0 {
		return errUserinfo
	}
	return nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". hasPort reports
// whether a ":" introduced a port, so that "host:" is told apart from "host".
func splitHostPort(a string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", false, errNoCloseBracket
		}
		host, rest := a[:end+1], a[end+1:]
		if rest == "" {
			return host, "", false, nil
		}
		if rest[0] != ':' {
			return "", "", false, errAfterBracket
		}
		return host, rest[1:], true, nil
	}
	host, port, hasPort = strings.Cut(a, ":")
	if hasPort && strings.IndexByte(port, ':') >= 0 {
		return "", "", false, errIPv6NoBrackets
	}
	return host, port, hasPort, nil
}

// parsePort parses a decimal port 1-65535. Leading zeros are accepted.
func parsePort(s string) (int, error) {
	if s == "" {
		return 0, errEmptyPort
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errPortNotNumber
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			// Keep scanning so that "99999x" says "not a number".
			for ; i < len(s); i++ {
				if s[i] < '0' || s[i] > '9' {
					return 0, errPortNotNumber
				}
			}
			return 0, errPortRange
		}
	}
	if n == 0 {
		return 0, errPortRange
	}
	return n, nil
}

// defaultPort is the port a browser leaves out of an origin for scheme.
func defaultPort(https bool) int {
	if https {
		return 443
	}
	return 80
}

// parseIPv6Host parses a bracketed IPv6 literal and returns it in canonical form,
// in brackets. When h is already canonical it is returned as is, without allocating.
func parseIPv6Host(h string) (string, error) {
	inner := h[1 : len(h)-1]
	if strings.IndexByte(inner, '%') >= 0 {
		return "", errIPv6Zone
	}
	addr, err := netip.ParseAddr(inner)
	if err != nil || !addr.Is6() {
		return "", errBadIPv6
	}
	var buf [64]byte
	b := append(buf[:0], '[')
	b = addr.AppendTo(b)
	b = append(b, ']')
	if string(b) == h {
		return h, nil
	}
	return string(b), nil
}

// endsInNumber reports whether the last label of h looks numeric (decimal, or
// hex with "0x"), which makes browsers treat the whole host as an IPv4 address.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		for i := 2; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isIPv4 reports whether h is a dotted-decimal IPv4 address in the canonical form
// browsers send: four numbers 0-255 without leading zeros.
func isIPv4(h string) bool {
	parts := 0
	for h != "" {
		var field string
		if i := strings.IndexByte(h, '.'); i >= 0 {
			field, h = h[:i], h[i+1:]
			if h == "" {
				return false
			}
		} else {
			field, h = h, ""
		}
		parts++
		if parts > 4 || field == "" || len(field) > 3 || len(field) > 1 && field[0] == '0' {
			return false
		}
		n := 0
		for i := 0; i < len(field); i++ {
			if field[i] < '0' || field[i] > '9' {
				return false
			}
			n = n*10 + int(field[i]-'0')
		}
		if n > 255 {
			return false
		}
	}
	return parts == 4
}

// checkLabels checks the label structure of a lower-case ASCII host without a
// trailing dot: no empty labels and DNS length limits.
func checkLabels(h string) error {
	if h == "" {
		return errMissingHost
	}
	if len(h) > maxHostLen {
		return errHostTooLong
	}
	for h != "" {
		label, rest, found := strings.Cut(h, ".")
		if label == "" || found && rest == "" {
			return errEmptyLabel
		}
		if len(label) > maxLabelLen {
			return errLabelTooLong
		}
		h = rest
	}
	return nil
}

// asciiLower returns s with ASCII upper-case letters lower-cased; it allocates only
// when s has one.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// asciiEqualFold reports whether s equals lower, a lower-case ASCII string,
// ignoring ASCII case only (never Unicode folding such as "K" for "k").
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isASCII reports whether s has only 7-bit bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// quote quotes s for an error message, shortened to about 64 bytes.
func quote(s string) string {
	return strconv.Quote(truncate(s, 64))
}

// truncate shortens s to at most n bytes at a UTF-8 boundary, marking the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
