package portstore

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/portservice"
)

// Limits on what Open reads: a longer file is read only up to maxFileSize, and
// a longer line is dropped. A store never writes a file larger than
// maxFileSize, so it always reads back everything it wrote.
const (
	maxFileSize = 1 << 20
	maxLineLen  = 4 << 10
)

// problemKind says what became of a line that was not in the store's own form.
type problemKind int

const (
	dropped  problemKind = iota // the line is not kept
	fixed                       // the line is kept with its last-seen time changed
	reformed                    // the line is kept as it was; only its layout changes
)

// problem is something wrong with one line of a PortStore.txt.
type problem struct {
	line   int // 1-based
	kind   problemKind
	reason string // never quotes the line: the file may hold what it should not
}

// candidate is a line that parsed, before duplicates are resolved.
type candidate struct {
	line    int
	e       Entry
	badTime bool      // the last-seen time did not parse and is now
	fixes   []problem // what is changed if the line is kept
}

// newer reports whether a wins over b when both name the same user or port:
// the later last seen wins, a line whose time did not parse loses to one whose
// time did, and between equals the later line wins.
func newer(a, b *candidate) bool {
	if a.badTime != b.badTime {
		return !a.badTime
	}
	if c := a.e.LastSeen.Compare(b.e.LastSeen); c != 0 {
		return c > 0
	}
	return a.line > b.line
}

// parse reads the contents of a PortStore.txt, of which cut says the end was
// not read, keeping every entry it can for the ports of rng. It returns the
// entries sorted by port and what it found wrong; no problems means data is
// exactly what format writes for those entries.
func parse(data []byte, cut bool, rng portservice.Range, now time.Time) ([]Entry, []problem) {
	var probs []problem
	note := func(line int, kind problemKind, reason string) {
		probs = append(probs, problem{line: line, kind: kind, reason: reason})
	}
	if rest, ok := bytes.CutPrefix(data, []byte("\uFEFF")); ok {
		data = rest
		note(1, reformed, "byte order mark at the start of the file")
	}

	var cands []*candidate
	for n := 1; len(data) > 0; n++ {
		raw, rest, found := bytes.Cut(data, []byte{'\n'})
		data = rest
		if !found && cut {
			note(n, dropped, "cut off at the 1 MiB read limit")
			break
		}
		if len(raw) > maxLineLen {
			note(n, dropped, "line longer than 4 KiB")
			continue
		}
		raw, crlf := bytes.CutSuffix(raw, []byte{'\r'})
		line := string(raw)
		if strings.Trim(line, " \t\r") == "" {
			note(n, reformed, "blank line")
			continue
		}
		c, reason := parseLine(line, rng)
		if c == nil {
			note(n, dropped, reason)
			continue
		}
		c.line = n
		fix := func(kind problemKind, reason string) {
			c.fixes = append(c.fixes, problem{line: n, kind: kind, reason: reason})
		}
		t := c.e.LastSeen.UTC().Truncate(time.Second)
		switch {
		case reason != "":
			c.badTime, c.e.LastSeen = true, now
			fix(fixed, reason)
		case t.After(now):
			c.e.LastSeen = now
			fix(fixed, "the last-seen time is in the future; set to now")
		default:
			c.e.LastSeen = t
			if string(appendEntry(nil, c.e, !rng.Contains(c.e.Port))) != line+"\n" {
				fix(reformed, "spacing or number format")
			}
		}
		if crlf {
			fix(reformed, "CRLF line ending")
		}
		if !found {
			fix(reformed, "no newline at the end of the file")
		}
		cands = append(cands, c)
	}

	// One line per user: keep the one seen last.
	byUser := make(map[string]*candidate, len(cands))
	for _, c := range cands {
		if old := byUser[c.e.User]; old == nil || newer(c, old) {
			byUser[c.e.User] = c
		}
	}
	// One user per port: keep the one seen last; the other gets a new port when
	// it next registers.
	byPort := make(map[int]*candidate, len(byUser))
	for _, c := range cands {
		if byUser[c.e.User] != c {
			continue
		}
		if old := byPort[c.e.Port]; old == nil || newer(c, old) {
			byPort[c.e.Port] = c
		}
	}
	for _, c := range cands {
		if win := byUser[c.e.User]; win != c {
			probs = append(probs, problem{line: c.line, kind: dropped,
				reason: "its user is also on line " + strconv.Itoa(win.line) + ", which is kept"})
		} else if win := byPort[c.e.Port]; win != c {
			probs = append(probs, problem{line: c.line, kind: dropped,
				reason: "its port is also on line " + strconv.Itoa(win.line) +
					", which is kept; its user gets a new port when it next registers"})
		}
	}

	entries := make([]Entry, 0, len(byPort))
	prev := 0
	sorted := true
	for _, c := range cands {
		if byPort[c.e.Port] != c {
			continue
		}
		probs = append(probs, c.fixes...)
		if c.e.Port < prev && sorted {
			sorted = false
			note(c.line, reformed, "lines not sorted by port")
		}
		prev = c.e.Port
		entries = append(entries, c.e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Port, b.Port) })
	slices.SortStableFunc(probs, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	return entries, probs
}

// parseLine parses one line without its newline. It returns nil and why when
// the line cannot be kept, or the candidate and, when its last-seen time does
// not parse, why.
func parseLine(line string, rng portservice.Range) (*candidate, string) {
	f := strings.FieldsFunc(line, func(r rune) bool { return r == '\t' || r == ' ' })
	marked := len(f) == 4 && f[3] == outsideMark
	if len(f) != 3 && !marked {
		return nil, "want 3 fields (user, port, last seen) or 4 ending in " + outsideMark + ", found " + strconv.Itoa(len(f))
	}
	if !validUser(f[0]) {
		return nil, "the user is neither uid:N nor a Windows SID"
	}
	port, err := strconv.Atoi(f[1])
	if err != nil || f[1][0] < '0' || f[1][0] > '9' {
		return nil, "the port is not a number"
	}
	switch {
	case marked && (port < portservice.MinPort || port > 65535):
		return nil, "the port is not one the OS hands out (" + strconv.Itoa(portservice.MinPort) + "-65535)"
	case !marked && !rng.Contains(port):
		return nil, "the port is outside the range " + rng.String()
	}
	c := &candidate{e: Entry{User: f[0], Port: port}}
	t, err := time.Parse(time.RFC3339, f[2])
	if y := t.UTC().Year(); err != nil || y < 1 || y > 9999 {
		return c, "the last-seen time is not an RFC 3339 time; set to now"
	}
	c.e.LastSeen = t
	return c, ""
}

// outsideMark is the fourth field of a line whose port lies outside the range:
// one the OS chose when every port of the range was unusable. Without it a port
// outside the range (left over from another range) is dropped.
const outsideMark = "outside"

// appendLine appends e as a line of PortStore.txt for a port inside the range.
func appendLine(b []byte, e Entry) []byte { return appendEntry(b, e, false) }

// appendEntry appends e as a line of PortStore.txt, marked when its port lies
// outside the range.
func appendEntry(b []byte, e Entry, out bool) []byte {
	b = append(b, e.User...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(e.Port), 10)
	b = append(b, '\t')
	b = e.LastSeen.AppendFormat(b, time.RFC3339)
	if out {
		b = append(b, '\t')
		b = append(b, outsideMark...)
	}
	return append(b, '\n')
}

// lineLen is the length of e's line in PortStore.txt, for a port inside the
// range.
func lineLen(user string, port int) int {
	return len(user) + 1 + len(strconv.Itoa(port)) + 1 + len("2006-01-02T15:04:05Z") + 1
}

// outsideLen is what the mark adds to the line of a port outside the range.
const outsideLen = 1 + len(outsideMark)

// quoteStart returns the first 64 bytes of b, Go-quoted, for an error about
// a caller's argument (never for a line of the file).
func quoteStart(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
