package doctor

import (
	"fmt"
	"io"
	"strings"
)

// label is how a status is printed: four letters, failures in capitals so
// that they stand out when read out on the phone.
func label(s Status) string {
	if s == Fail {
		return "FAIL"
	}
	return string(s)
}

// WriteText prints the report for a person: a header, one line per check
// (status, name, what was found), a "fix:" line under each warning and
// failure, and the summary.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cardbridge doctor: cardbridge %s on %s/%s", r.Version, r.OS, r.Arch)
	if r.User != "" {
		fmt.Fprintf(&b, ", user %s", r.User)
	}
	fmt.Fprintf(&b, ", %s\n\n", r.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	indent := strings.Repeat(" ", 2+4+2+width+2)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-4s  %-*s  %s\n", label(c.Status), width, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "%sfix: %s\n", indent, c.Fix)
		}
	}
	fmt.Fprintf(&b, "\n%s", r.Summary.Text)
	if r.Summary.Fail > 0 || r.Summary.Warn > 0 {
		b.WriteString(": see the fix lines above")
	}
	b.WriteString(".\n")
	_, err := io.WriteString(w, b.String())
	return err
}
