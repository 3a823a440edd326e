package portstore

import (
	"strconv"
	"strings"
)

// validUser reports whether s is a user id the store keeps: "uid:" and a
// decimal uint32 (a Unix user), or a Windows SID as the OS prints it
// (S-1-authority-sub[-sub...], one to fifteen subauthorities, Windows'
// SID_MAX_SUB_AUTHORITIES). Numbers must be
// written without leading zeros so that each user has exactly one id.
func validUser(s string) bool {
	if rest, ok := strings.CutPrefix(s, "uid:"); ok {
		return canonicalUint(rest, 32)
	}
	rest, ok := strings.CutPrefix(s, "S-1-")
	if !ok {
		return false
	}
	// The identifier authority (48 bits) and 1 to 15 subauthorities (32 bits).
	n := 0
	for part := range strings.SplitSeq(rest, "-") {
		bits := 32
		if n == 0 {
			bits = 48
		}
		if !canonicalUint(part, bits) {
			return false
		}
		n++
		if n > 16 {
			return false
		}
	}
	return n >= 2
}

// canonicalUint reports whether s is an unsigned decimal number that fits in
// bits bits, written without a sign or leading zeros.
func canonicalUint(s string, bits int) bool {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, bits)
	return err == nil
}
