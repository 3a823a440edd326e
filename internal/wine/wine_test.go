package wine

import (
	"fmt"
	"strings"
	"testing"
)

// skipRecorder is a testing.TB whose Skipf only records the reason, so that
// the helpers are checked without skipping this test.
type skipRecorder struct {
	testing.TB
	skipped string
}

func (r *skipRecorder) Helper() {}

func (r *skipRecorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}

// TestHelpers: under Wine each helper skips, naming the running release and
// why; SkipBefore only before the release given; on Windows and elsewhere
// none skips.
func TestHelpers(t *testing.T) {
	v := Version()
	cases := []struct {
		name string
		call func(testing.TB)
		skip bool // under Wine
	}{
		{"Lacks", func(tb testing.TB) { Lacks(tb, "the reason") }, true},
		{"Skip", func(tb testing.TB) { Skip(tb, "the reason") }, true},
		{"SkipBefore a later release", func(tb testing.TB) { SkipBefore(tb, Major()+1, "the reason") }, true},
		{"SkipBefore this release", func(tb testing.TB) { SkipBefore(tb, Major(), "the reason") }, false},
	}
	for _, c := range cases {
		r := &skipRecorder{TB: t}
		c.call(r)
		want := c.skip && Running()
		if (r.skipped != "") != want {
			t.Errorf("%s under Wine %q: skipped %q, want a skip: %v", c.name, v, r.skipped, want)
		}
		if r.skipped != "" && (!strings.Contains(r.skipped, "Wine "+v) || !strings.HasSuffix(r.skipped, ": the reason")) {
			t.Errorf("%s: reason %q does not name Wine %s and the reason", c.name, r.skipped, v)
		}
	}
}
