// Package atomicfile replaces a file's contents so that readers, and the file
// after a crash or power cut, see either the old contents or the new, never a
// mix or a truncated file.
//
// Write goes through a temporary file in the same directory (named
// ".NAME.tmp-DIGITS"), fsyncs it and renames it over the target durably: on
// Unix it fsyncs the directory after the rename; on Windows the rename is
// MoveFileEx with MOVEFILE_REPLACE_EXISTING (an atomic replace, as os.Rename
// does) and MOVEFILE_WRITE_THROUGH (it returns once the rename is on disk), and
// there is no directory to fsync. Cleanup removes temporary files that a crash
// left behind.
//
// ReadRegular reads such a file back only if it is a regular file, without
// following a symbolic link or blocking on a named pipe, and up to a size
// limit; MoveAside moves anything else out of the way.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write replaces path with data, mode perm, atomically and durably: when it
// returns nil the new contents are on disk; when it fails path is unchanged (or,
// if only the directory sync after the rename failed, replaced but perhaps not
// yet durable)
// and no temporary file is left.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a second Close only reports os.ErrClosed
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err := rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// Cleanup removes the temporary files that Write, interrupted by a crash, left
// in dir for the file named base. Call it before writing, not while another
// Write of the same file may be running.
func Cleanup(dir, base string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range ents {
		if isTemp(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// tempPrefix is the start of the name of Write's temporary files for base.
func tempPrefix(base string) string {
	return "." + base + ".tmp-"
}

// isTemp reports whether name is prefix followed by the decimal digits that
// os.CreateTemp puts in place of "*".
func isTemp(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}
