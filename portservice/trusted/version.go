package trusted

import "strings"

// relVersion is a parsed release version: dotted numbers and an optional
// pre-release suffix after "-".
type relVersion struct {
	nums []string // decimal numbers without leading zeros ("0" for zero)
	pre  []string // pre-release identifiers; nil for a release
}

// parseVersion parses "1.4.2", "v1.10", "1.4.2-dev" or "1.4.2-rc.1+build",
// ignoring build metadata after "+".
func parseVersion(s string) (relVersion, bool) {
	s = strings.TrimSpace(s)
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	s, _, _ = strings.Cut(s, "+")
	core, pre, hasPre := strings.Cut(s, "-")
	var v relVersion
	for n := range strings.SplitSeq(core, ".") {
		if !isDigits(n) {
			return relVersion{}, false
		}
		if n = strings.TrimLeft(n, "0"); n == "" {
			n = "0"
		}
		v.nums = append(v.nums, n)
	}
	if hasPre {
		for id := range strings.SplitSeq(pre, ".") {
			if id == "" || strings.IndexFunc(id, func(c rune) bool {
				return !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-')
			}) >= 0 {
				return relVersion{}, false
			}
			v.pre = append(v.pre, id)
		}
	}
	return v, true
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareNumbers compares two decimal numbers without leading zeros.
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compareVersions returns -1, 0 or +1 as a is older than, the same as or
// newer than b. Missing numbers count as 0 (1.4 = 1.4.0); a pre-release sorts
// before its release, and pre-releases compare identifier by identifier,
// numbers numerically and below words, as in Semantic Versioning.
func compareVersions(a, b relVersion) int {
	for i := range max(len(a.nums), len(b.nums)) {
		x, y := "0", "0"
		if i < len(a.nums) {
			x = a.nums[i]
		}
		if i < len(b.nums) {
			y = b.nums[i]
		}
		if c := compareNumbers(x, y); c != 0 {
			return c
		}
	}
	switch {
	case a.pre == nil && b.pre == nil:
		return 0
	case a.pre == nil:
		return 1
	case b.pre == nil:
		return -1
	}
	for i := range min(len(a.pre), len(b.pre)) {
		x, y := a.pre[i], b.pre[i]
		xn, yn := isDigits(x), isDigits(y)
		var c int
		switch {
		case xn && yn:
			c = compareNumbers(strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0"))
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}
