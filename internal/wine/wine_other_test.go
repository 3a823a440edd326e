//go:build !windows

package wine

import "testing"

func TestVersion(t *testing.T) {
	if v := Version(); v != "" || Running() {
		t.Errorf("Version() = %q, Running() = %v off Windows", v, Running())
	}
}
