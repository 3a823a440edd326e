package trusted

import "testing"

// TestUpdateAvailable: dotted numbers compare numerically, a pre-release sorts
// before its release, and anything unparseable is never an update.
func TestUpdateAvailable(t *testing.T) {
	for _, tc := range []struct {
		latest, running string
		want            bool
	}{
		{"1.4.2", "1.4.1", true},
		{"1.10.0", "1.9.3", true},
		{"1.9.3", "1.10.0", false},
		{"2.0.0", "1.99.99", true},
		{"1.4.2", "1.4.2", false},
		{"1.4.2", "1.4.2-dev", true},
		{"1.4.2-dev", "1.4.2", false},
		{"1.4.3-dev", "1.4.2", true},
		{"1.4", "1.4.0", false},
		{"1.4.0", "1.4", false},
		{"1.4.0.1", "1.4", true},
		{"v1.5.0", "1.4.9", true},
		{"1.5.0", "v1.5.0", false},
		{"01.4", "1.3", true},
		{"1.4.2+build.7", "1.4.2", false},
		{"2.0.0-rc.2", "2.0.0-rc.1", true},
		{"2.0.0-rc.10", "2.0.0-rc.9", true},
		{"2.0.0-rc.1", "2.0.0-beta", true},
		{"2.0.0-rc.1", "2.0.0-rc", true},
		{"2.0.0-alpha", "2.0.0-1", true},
		{"99999999999999999999999.0", "1.0", true},
		{"1.0", "99999999999999999999999.0", false},
		{"", "1.0.0", false},
		{"1.0.0", "", false},
		{"latest", "1.0.0", false},
		{"2.0.0", "dev", false},
		{"2.0.0", "(devel)", false},
		{"1..2", "1.0", false},
		{"1.2.x", "1.0", false},
		{"1.2.", "1.0", false},
		{"1.4.2-", "1.0", false},
		{"1.4.2-rc..1", "1.0", false},
		{"1.4.2-r c", "1.0", false},
		{"-1.0", "0.1", false},
		{" 1.5.0 ", "1.4.0", true},
	} {
		t.Run(tc.latest+"_vs_"+tc.running, func(t *testing.T) {
			if got := (Status{LatestVersion: tc.latest}).UpdateAvailable(tc.running); got != tc.want {
				t.Errorf("Status{LatestVersion: %q}.UpdateAvailable(%q) = %v, want %v", tc.latest, tc.running, got, tc.want)
			}
		})
	}
}

// FuzzCompareVersions: comparison never panics and is antisymmetric.
func FuzzCompareVersions(f *testing.F) {
	f.Add("1.4.2", "1.4.2-dev")
	f.Add("1.10.0", "v1.9.3+x")
	f.Add("1.0.0-rc.1.a", "1.0.0-rc.1")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, okA := parseVersion(a)
		vb, okB := parseVersion(b)
		if !okA || !okB {
			return
		}
		if x, y := compareVersions(va, vb), compareVersions(vb, va); x != -y {
			t.Errorf("compare(%q, %q) = %d but reversed %d", a, b, x, y)
		}
	})
}
