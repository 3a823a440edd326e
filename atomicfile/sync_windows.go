package atomicfile

import (
	"os"

	"golang.org/x/sys/windows"
)

// rename moves the synced temporary file tmp over path with MoveFileEx:
// MOVEFILE_REPLACE_EXISTING replaces path atomically (as os.Rename does) and
// MOVEFILE_WRITE_THROUGH returns only once the rename is on disk, which stands
// in for the directory fsync that Windows has no way to do.
func rename(tmp, path string) error {
	from, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	to, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	return nil
}
