package testutil

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		writes  []string
		want    string
		wantLen int
	}{
		{name: "nothing written", want: "", wantLen: 0},
		{name: "no limit keeps everything", writes: []string{"abc", "defgh"}, want: "abcdefgh", wantLen: 8},
		{name: "under the limit", limit: 10, writes: []string{"abc", "def"}, want: "abcdef", wantLen: 6},
		{name: "exactly the limit", limit: 6, writes: []string{"abc", "def"}, want: "abcdef", wantLen: 6},
		{name: "a write across the limit keeps what fits", limit: 4, writes: []string{"abc", "def"}, want: "abcd\n[2 bytes dropped]", wantLen: 4},
		{name: "writes past a full buffer are counted", limit: 3, writes: []string{"abc", "de", "f"}, want: "abc\n[3 bytes dropped]", wantLen: 3},
		{name: "one write larger than the limit", limit: 2, writes: []string{"abcdef"}, want: "ab\n[4 bytes dropped]", wantLen: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Buffer{Limit: tt.limit}
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := b.Len(); got != tt.wantLen {
				t.Errorf("Len() = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

// TestBufferConcurrent writes from many goroutines while reading, for the race
// detector, and checks that no write is lost or torn.
func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	const writers, lines = 8, 100
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range lines {
				b.Write([]byte("line\n"))
			}
		})
	}
	wg.Go(func() {
		for range lines {
			_ = b.String()
			_ = b.Len()
		}
	})
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != writers*lines || b.Len() != writers*lines*5 {
		t.Errorf("%d whole lines, %d bytes; want %d lines", got, b.Len(), writers*lines)
	}
}

func TestTail(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abc", 5, "abc"},
		{"abcdef", 3, "...def"},
	} {
		if got := Tail(c.s, c.n); got != c.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
