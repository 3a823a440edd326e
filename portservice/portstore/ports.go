package portstore

import "math/bits"

// portSet records which port of the range each user holds. Finding the lowest
// free port scans a bitset of used ports a 64-bit word at a time from hint,
// below which every port is known to be used: with the default range of 1,000
// ports that is at most 16 words, and usually the first word looked at.
type portSet struct {
	lo    int
	owner []string // owner[port-lo] is the user holding port, "" when free
	used  []uint64 // bit i set: port lo+i is held
	hint  int      // every offset below hint is used
}

// newPortSet returns an empty portSet for the ports lo to hi inclusive.
func newPortSet(lo, hi int) portSet {
	n := hi - lo + 1
	return portSet{lo: lo, owner: make([]string, n), used: make([]uint64, (n+63)/64)}
}

// inRange reports whether port is in the set's range.
func (ps *portSet) inRange(port int) bool {
	return port >= ps.lo && port-ps.lo < len(ps.owner)
}

// userOf returns the user holding port.
func (ps *portSet) userOf(port int) (string, bool) {
	if !ps.inRange(port) {
		return "", false
	}
	u := ps.owner[port-ps.lo]
	return u, u != ""
}

// take gives the free port to user.
func (ps *portSet) take(port int, user string) {
	i := port - ps.lo
	ps.owner[i] = user
	ps.used[i/64] |= 1 << (i % 64)
}

// release frees port.
func (ps *portSet) release(port int) {
	i := port - ps.lo
	ps.owner[i] = ""
	ps.used[i/64] &^= 1 << (i % 64)
	if i < ps.hint {
		ps.hint = i
	}
}

// lowestFree returns the lowest free port for which unusable (nil: none) is
// false, calling unusable on free ports in ascending order.
func (ps *portSet) lowestFree(unusable func(port int) bool) (int, bool) {
	first := true
	for w := ps.hint / 64; w < len(ps.used); w++ {
		free := ^ps.used[w]
		if w == ps.hint/64 {
			free &^= 1<<(ps.hint%64) - 1
		}
		for free != 0 {
			b := bits.TrailingZeros64(free)
			i := w*64 + b
			if i >= len(ps.owner) {
				break
			}
			if first {
				ps.hint, first = i, false
			}
			if unusable == nil || !unusable(ps.lo+i) {
				return ps.lo + i, true
			}
			free &^= 1 << b
		}
	}
	if first {
		ps.hint = len(ps.owner)
	}
	return 0, false
}
