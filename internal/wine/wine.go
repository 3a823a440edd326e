// Package wine tells tests whether they run under Wine rather than on
// Windows, so that a test can skip what Wine does not implement, saying what,
// while still running in full on Windows. Only tests import it.
package wine

import "testing"

// Running reports whether the program runs under Wine.
func Running() bool { return Version() != "" }

// Skip skips the test under Wine, giving Wine's version and why; on Windows
// and elsewhere it does nothing.
func Skip(t testing.TB, why string) {
	t.Helper()
	if v := Version(); v != "" {
		t.Skipf("Wine %s: %s", v, why)
	}
}
