package domainlist

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Limits on what Parse reads. maxPatterns keeps Format's output of any parsed
// list within maxFileSize, so that it always parses back whole.
const (
	maxFileSize   = 1 << 20 // bytes read from a file; the rest is ignored
	maxLineLen    = 2048    // bytes in one line, without its line ending
	maxVersionLen = 256     // bytes in the version named by "# version: V"
	maxPatterns   = 3000    // distinct patterns kept
	maxLineErrors = 100     // LineErrors listed one by one; the rest are counted
)

var (
	errLineTooLong     = errors.New("line is longer than 2048 bytes")
	errVersionTooLong  = errors.New("version is longer than 256 bytes")
	errTooManyPatterns = errors.New("more than 3000 patterns; line ignored")
	errFileTooBig      = errors.New("file is larger than 1 MiB; this line and everything after it were ignored")
	errUnlisted        = errors.New("more bad lines not listed")
)

// List is a parsed DomainList. It is immutable and safe for concurrent use.
type List struct {
	version  string
	patterns []Pattern
	exact    map[string][]schemePort // patterns without a wildcard, by host
	wild     map[string][]schemePort // wildcard patterns, by the host after "*."
	// Shortest and longest host in wild, to skip suffixes that cannot match.
	wildMin, wildMax int
}

// schemePort packs a pattern's scheme and effective port: port<<1, plus 1 for https.
type schemePort uint32

func makeSchemePort(https bool, port int) schemePort {
	sp := schemePort(port) << 1
	if https {
		sp |= 1
	}
	return sp
}

func (p Pattern) schemePort() schemePort {
	https := p.Scheme == "https"
	port := p.Port
	if port == 0 {
		port = defaultPort(https)
	}
	return makeSchemePort(https, port)
}

// LineError is one DomainList line that was skipped, and why.
type LineError struct {
	Line int    // 1-based line number
	Text string // the line, without surrounding white space
	Err  error  // what is wrong with it
}

// Error returns "line N: <problem>: <quoted line, shortened to about 80 bytes>".
func (e LineError) Error() string {
	msg := "bad line"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	s := "line " + strconv.Itoa(e.Line) + ": " + msg
	if e.Text != "" {
		s += ": " + strconv.Quote(truncate(e.Text, 80))
	}
	return s
}

// Unwrap returns the problem with the line.
func (e LineError) Unwrap() error { return e.Err }

// Reason says what is wrong with the line without quoting any of it, for a
// log that must not show what a file holds (it may not be a DomainList at
// all).
func (e LineError) Reason() string {
	for err := e.Err; err != nil; err = errors.Unwrap(err) {
		if reasons[err] {
			return err.Error()
		}
	}
	return "not an origin pattern"
}

// reasons are the problems Reason names: none quotes the line.
var reasons = map[error]bool{
	errLineTooLong: true, errVersionTooLong: true, errTooManyPatterns: true, errFileTooBig: true, errUnlisted: true,
	errEmptyPattern: true, errSpace: true, errNoScheme: true, errEmptyScheme: true, errBareStar: true,
	errStarDotOnly: true, errStarPlace: true, errWildcardIP: true, errWildcardShort: true,
	errNoSlashes: true, errScheme: true, errIDN: true, errPunycode: true, errPublicSuffix: true,
	errMissingHost: true, errPath: true, errQuery: true, errFragment: true, errBackslash: true,
	errUserinfo: true, errNoCloseBracket: true, errAfterBracket: true, errIPv6NoBrackets: true,
	errBadIPv6: true, errIPv6Zone: true, errBadIPv4: true, errEmptyPort: true, errPortNotNumber: true,
	errPortRange: true, errEmptyLabel: true, errTrailingDot: true, errHostTooLong: true,
	errLabelTooLong: true, errHostChar: true, errLabelHyphen: true, errHostInvalidUTF8: true,
}

// Empty returns a list that allows no origin.
func Empty() *List { return &List{} }

// Parse parses the contents of DomainList.txt. It never fails as a whole: lines
// that do not parse are returned as LineErrors and skipped, the rest are kept.
func Parse(data []byte) (*List, []LineError) {
	l := &List{exact: map[string][]schemePort{}, wild: map[string][]schemePort{}}
	var errs []LineError
	unlisted, firstUnlisted := 0, 0
	bad := func(line int, text string, err error) {
		if len(errs) < maxLineErrors {
			errs = append(errs, LineError{Line: line, Text: strings.Clone(text), Err: err})
			return
		}
		if unlisted == 0 {
			firstUnlisted = line
		}
		unlisted++
	}

	// Past the size limit, drop the partial last line too: a cut-off host is a
	// different host.
	var tooBig *LineError
	if len(data) > maxFileSize {
		cut := bytes.LastIndexByte(data[:maxFileSize], '\n') + 1
		rest, _, _ := bytes.Cut(data[cut:], []byte("\n"))
		tooBig = &LineError{
			Line: bytes.Count(data[:cut], []byte("\n")) + 1,
			Text: truncate(strings.TrimSpace(string(rest[:min(len(rest), 200)])), 80),
			Err:  errFileTooBig,
		}
		data = data[:cut]
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))

	n := 0
	seenLine := false // whether a non-blank line came before; only the first may name the version
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte("\n"))
		n++
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if len(raw) > maxLineLen {
			seenLine = true
			bad(n, truncate(string(raw[:maxLineLen+1]), maxLineLen), errLineTooLong)
			continue
		}
		line := strings.TrimSpace(string(raw))
		if line == "" {
			continue
		}
		first := !seenLine
		seenLine = true
		if first {
			if v, ok := versionOf(line); ok {
				if len(v) > maxVersionLen {
					bad(n, line, errVersionTooLong)
				} else {
					l.version = strings.Clone(v)
				}
				continue
			}
		}
		text, _, _ := strings.Cut(line, "#")
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		p, err := ParsePattern(text)
		if err != nil {
			bad(n, line, err)
			continue
		}
		sp, set := p.schemePort(), l.exact
		if p.Wildcard {
			set = l.wild
		}
		if slices.Contains(set[p.Host], sp) {
			continue
		}
		if len(l.patterns) >= maxPatterns {
			bad(n, line, errTooManyPatterns)
			continue
		}
		p.Host = strings.Clone(p.Host)
		set[p.Host] = append(set[p.Host], sp)
		l.patterns = append(l.patterns, p)
		if p.Wildcard {
			if l.wildMin == 0 || len(p.Host) < l.wildMin {
				l.wildMin = len(p.Host)
			}
			l.wildMax = max(l.wildMax, len(p.Host))
		}
	}
	if unlisted > 0 {
		errs = append(errs, LineError{Line: firstUnlisted, Err: quotedf(errUnlisted, "%d more bad lines not listed", unlisted)})
	}
	if tooBig != nil {
		errs = append(errs, *tooBig)
	}
	return l, errs
}

// versionOf returns V from a line "# version: V", accepting any case and spacing.
func versionOf(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "#")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) < len("version") || !asciiEqualFold(rest[:len("version")], "version") {
		return "", false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest[len("version"):]), ":")
	if !ok {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// Version returns the list's version from its first line "# version: V", or "".
func (l *List) Version() string {
	if l == nil {
		return ""
	}
	return l.version
}

// Patterns returns a copy of the patterns in file order, without duplicates.
func (l *List) Patterns() []Pattern {
	if l == nil {
		return nil
	}
	return append([]Pattern(nil), l.patterns...)
}

// Entries returns the patterns as strings, in file order, never nil: the
// form /api/versioninfo and doctor show.
func (l *List) Entries() []string {
	out := make([]string, 0, l.Len())
	if l != nil {
		for _, p := range l.patterns {
			out = append(out, p.String())
		}
	}
	return out
}

// Len returns the number of distinct patterns.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.patterns)
}

// Allows reports whether a request with this raw Origin header value may use the
// service. It is false for "", "null", a malformed value and a nil List.
func (l *List) Allows(origin string) bool {
	if l == nil || len(l.patterns) == 0 {
		return false
	}
	o, err := parseOrigin(origin, false) // allowsOrigin folds case without allocating
	if err != nil {
		return false
	}
	return l.allowsOrigin(o)
}

// allowsOrigin reports whether some pattern in the list matches o (the tests
// hold it to Pattern.matches, a reference matcher taking one pattern at a time).
func (l *List) allowsOrigin(o Origin) bool {
	if l == nil || len(l.patterns) == 0 {
		return false
	}
	var https bool
	switch {
	case asciiEqualFold(o.Scheme, "https"):
		https = true
	case asciiEqualFold(o.Scheme, "http"):
	default:
		return false
	}
	port := o.Port
	if port == 0 {
		port = defaultPort(https)
	}
	if port < 1 || port > 65535 || o.Host == "" || len(o.Host) > maxHostLen+1 {
		return false
	}
	// Lower-case the host into a stack buffer; map lookups by string(bytes) do not
	// allocate.
	var buf [maxHostLen + 1]byte
	host := buf[:len(o.Host)]
	for i := 0; i < len(o.Host); i++ {
		c := o.Host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		host[i] = c
	}
	sp := makeSchemePort(https, port)
	if slices.Contains(l.exact[string(host)], sp) {
		return true
	}
	if len(l.wild) == 0 || host[0] == '.' || bytes.Contains(host, []byte("..")) {
		return false
	}
	// Try each suffix after a dot with at least one label in front of it:
	// "a.b.c.d" looks up "b.c.d", "c.d" and "d", as far as their lengths allow.
	for i := 1; i < len(host)-1; i++ {
		if host[i] != '.' {
			continue
		}
		rest := len(host) - i - 1
		if rest < l.wildMin {
			break
		}
		if rest <= l.wildMax && slices.Contains(l.wild[string(host[i+1:])], sp) {
			return true
		}
	}
	return false
}

// Format returns the list as a clean DomainList file: a "# version: V" line when
// the version is set, then one canonical pattern per line.
func (l *List) Format() []byte {
	if l == nil {
		return nil
	}
	var b []byte
	if l.version != "" {
		b = append(b, "# version: "...)
		b = append(b, l.version...)
		b = append(b, '\n')
	}
	for _, p := range l.patterns {
		b = append(b, p.String()...)
		b = append(b, '\n')
	}
	return b
}
