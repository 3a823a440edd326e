// Package testutil holds small helpers shared by cardbridge's tests.
package testutil

import (
	"bytes"
	"fmt"
	"sync"
)

// Buffer is a bytes.Buffer that goroutines may write while a test reads it:
// logs from servers, output from child processes. The zero value keeps
// everything; a Limit bounds what it keeps for writers that may run away.
type Buffer struct {
	// Limit, when above zero, is the most bytes the buffer keeps: a write
	// past it keeps what fits, drops the rest and still reports success, and
	// String ends with how many bytes were dropped.
	Limit int

	mu      sync.Mutex
	b       bytes.Buffer
	dropped int
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 {
		if room := b.Limit - b.b.Len(); room < len(p) {
			room = max(room, 0)
			b.b.Write(p[:room])
			b.dropped += len(p) - room
			return len(p), nil
		}
	}
	return b.b.Write(p)
}

// String returns what was written so far, and with a Limit, how much of it
// was dropped.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return b.b.String() + fmt.Sprintf("\n[%d bytes dropped]", b.dropped)
	}
	return b.b.String()
}

// Len returns the number of bytes kept.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// Tail is the last n bytes of s, marked as cut when it is: the end of a
// long log, where a failure's cause usually is.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
