package portstore

import (
	"math/rand/v2"
	"testing"
)

// TestPortSetMatchesScan checks lowestFree against a plain scan over random
// takes, releases and unusable sets, on ranges that do and do not fill whole
// 64-bit words.
func TestPortSetMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 63, 64, 65, 130, 1000} {
		ps := newPortSet(5000, 5000+n-1)
		held := make([]bool, n)
		for step := range 20000 {
			bad := map[int]bool{}
			for range r.IntN(4) {
				bad[5000+r.IntN(n)] = true
			}
			want, wantOK := 0, false
			for i := range n {
				if !held[i] && !bad[5000+i] {
					want, wantOK = 5000+i, true
					break
				}
			}
			got, ok := ps.lowestFree(func(p int) bool { return bad[p] })
			if got != want || ok != wantOK {
				t.Fatalf("n=%d step %d: lowestFree = %d, %v; want %d, %v", n, step, got, ok, want, wantOK)
			}
			if ok && r.IntN(3) > 0 {
				ps.take(got, "u")
				held[got-5000] = true
			} else if i := r.IntN(n); held[i] {
				ps.release(5000 + i)
				held[i] = false
			}
			for i := range n {
				if _, h := ps.userOf(5000 + i); h != held[i] {
					t.Fatalf("n=%d step %d: userOf(%d) held = %v, want %v", n, step, 5000+i, h, held[i])
				}
			}
		}
	}
}
