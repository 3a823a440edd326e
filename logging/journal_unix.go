//go:build unix

package logging

import (
	"fmt"
	"os"
	"syscall"
)

// journalStreamMatches reports whether f is the stream env ("device:inode",
// as JOURNAL_STREAM holds it) names.
func journalStreamMatches(env string, f *os.File) bool {
	if env == "" {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return env == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
