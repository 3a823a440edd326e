package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ChildOf is the pid of a living (not zombie) child of parent, or 0.
func ChildOf(parent int) int {
	entries, _ := os.ReadDir("/proc")
	want := strconv.Itoa(parent)
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		if len(f) > 1 && f[1] == want && f[0] != "Z" {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	return 0
}
