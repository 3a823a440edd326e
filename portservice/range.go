package portservice

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Range is the per-user port range, Lo to Hi inclusive: the ports the port
// service gives agents, one user each (--range LO-HI).
type Range struct {
	Lo, Hi int
}

// DefaultRange is the per-user range when none is configured.
var DefaultRange = Range{Lo: 55000, Hi: 55999}

// MinPort is the lowest port an agent may be given, in the range or outside
// it: agents run as their users, who may not bind the ports below it on Unix
// systems.
const MinPort = 1024

// ParseRange reads "LO-HI", as --range takes it, and validates the range.
func ParseRange(s string) (Range, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Range{}, fmt.Errorf("%q: want LO-HI within %d-65535", s, MinPort)
	}
	r := Range{Lo: lo, Hi: hi}
	if err := r.Validate(); err != nil {
		return Range{}, err
	}
	return r, nil
}

// Validate reports an error unless 1024 <= Lo <= Hi <= 65535.
func (r Range) Validate() error {
	if r.Lo < MinPort || r.Hi > 65535 || r.Lo > r.Hi {
		return fmt.Errorf("port range %s: want %d <= LO <= HI <= 65535", r, MinPort)
	}
	return nil
}

// OrDefault returns r, or DefaultRange when r is zero, and Validate's error:
// how a range given in options is taken.
func (r Range) OrDefault() (Range, error) {
	r = cmp.Or(r, DefaultRange)
	return r, r.Validate()
}

// Contains reports whether port lies in the range.
func (r Range) Contains(port int) bool {
	return port >= r.Lo && port <= r.Hi
}

// String writes the range as ParseRange reads it.
func (r Range) String() string {
	return strconv.Itoa(r.Lo) + "-" + strconv.Itoa(r.Hi)
}
