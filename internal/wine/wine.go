// Package wine tells tests whether they run under Wine rather than on
// Windows, and which Wine, so that a test can skip what a Wine release does
// not implement, saying what, while still running in full on Windows and on
// the Wine releases that do implement it. Only tests import it.
package wine

import (
	"strconv"
	"strings"
	"testing"
)

// Running reports whether the program runs under Wine.
func Running() bool { return Version() != "" }

// Major is Wine's major version (8 for "8.0"), or 0 when not under Wine or
// when the version cannot be read.
func Major() int {
	v, _, _ := strings.Cut(Version(), ".")
	n, _ := strconv.Atoi(v)
	return n
}

// SkipBefore skips the test under a Wine older than release fixed (a major
// version), the first release that implements what the test needs, giving
// the running version and why; under that release or later, on Windows and
// elsewhere it does nothing.
func SkipBefore(t testing.TB, fixed int, why string) {
	t.Helper()
	if v := Version(); v != "" && Major() < fixed {
		t.Skipf("Wine %s (before Wine %d): %s", v, fixed, why)
	}
}

// Lacks skips the test under Wine, naming the running release, once the
// test has tried what it needs and found that this release does not do it;
// on Windows and elsewhere it does nothing, and the test goes on to fail.
// Unlike SkipBefore and Skip it needs no list of releases: a release that
// does implement it passes the attempt and runs the test in full.
func Lacks(t testing.TB, why string) {
	t.Helper()
	if v := Version(); v != "" {
		t.Skipf("Wine %s lacks this (tried and failed here): %s", v, why)
	}
}

// Skip skips the test under every Wine release so far (the running one is
// named), for what no Wine release implements; on Windows and elsewhere it
// does nothing.
func Skip(t testing.TB, why string) {
	t.Helper()
	if v := Version(); v != "" {
		t.Skipf("Wine %s (and every release up to it): %s", v, why)
	}
}
