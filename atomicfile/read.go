package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// ErrNotRegular is returned by ReadRegular for a path that names something
// other than a regular file: a symbolic link, directory, named pipe, device,
// socket or (on Windows) reparse point, or a file swapped for another while it
// was being opened.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by ReadRegular for a file larger than its limit.
var ErrTooLarge = errors.New("file is larger than the limit")

// ReadRegular reads the regular file at path, refusing anything else without
// following a symbolic link or waiting on a named pipe: it checks path with
// Lstat, opens it without following links and without blocking, and checks
// that what it opened is still a regular file and, where the OS tells, the
// same one. A file larger than max bytes gives its first max bytes and an
// error wrapping ErrTooLarge; a read error gives what was read before it.
// A missing file gives an error wrapping fs.ErrNotExist.
func ReadRegular(path string, max int64) ([]byte, error) {
	lfi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !lfi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: %w (%s)", path, ErrNotRegular, Kind(lfi.Mode()))
	}
	f, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: %w (%s, swapped in while opening)", path, ErrNotRegular, Kind(fi.Mode()))
	}
	if !os.SameFile(lfi, fi) {
		return nil, fmt.Errorf("read %s: %w (another file was swapped in while opening)", path, ErrNotRegular)
	}
	data := make([]byte, 0, min(fi.Size(), max)+1)
	data, err = readAll(io.LimitReader(f, max+1), data)
	if err != nil {
		return data[:min(int64(len(data)), max)], fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return data[:max], fmt.Errorf("read %s: %w of %d bytes", path, ErrTooLarge, max)
	}
	return data, nil
}

// readAll appends all of r to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// Kind names the type of file that mode describes, for a log message.
func Kind(mode fs.FileMode) string {
	switch t := mode.Type(); {
	case t == 0:
		return "regular file"
	case t&fs.ModeSymlink != 0:
		return "symbolic link"
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "device"
	default:
		return "irregular file"
	}
}

// MoveAside renames whatever is at path (a file of any type, which is not
// followed if it is a link) to "PATH.bad-YYYYMMDDTHHMMSSZ" in the same
// directory, with "-N" added if that name is taken, and returns the new name.
func MoveAside(path string) (string, error) {
	base := path + ".bad-" + time.Now().UTC().Format("20060102T150405Z")
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name += "-" + strconv.Itoa(i)
		}
		if _, err := os.Lstat(name); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.Rename(path, name); err != nil {
			return "", fmt.Errorf("move aside %s: %w", path, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("move aside %s: %w", path, fs.ErrExist)
}
