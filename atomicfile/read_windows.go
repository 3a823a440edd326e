package atomicfile

import (
	"os"

	"golang.org/x/sys/windows"
)

// openRegular opens path for reading with FILE_FLAG_OPEN_REPARSE_POINT, so
// that a symbolic link, junction or other reparse point swapped in after the
// caller's Lstat is opened itself, not followed (the caller's Stat then sees
// it is not a regular file). Windows has no named pipes in the file system.
func openRegular(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
