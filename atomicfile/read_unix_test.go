//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadRegularUnix(t *testing.T) {
	mkfifo := func(t *testing.T, path string) {
		t.Helper()
		if err := syscall.Mkfifo(path, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	runReadCases(t, []readCase{
		{
			name:     "named pipe",
			setup:    func(t *testing.T, dir, path string) { mkfifo(t, path) },
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "named pipe",
		},
		{
			name: "symbolic link to a named pipe",
			setup: func(t *testing.T, dir, path string) {
				mkfifo(t, filepath.Join(dir, "fifo"))
				symlink(t, "fifo", path)
			},
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "symbolic link",
		},
		{
			name:     "/dev/zero",
			at:       "/dev/zero",
			setup:    func(t *testing.T, dir, path string) {},
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "character device",
		},
		{
			name:     "symbolic link to /dev/zero",
			setup:    func(t *testing.T, dir, path string) { symlink(t, "/dev/zero", path) },
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "symbolic link",
		},
		{
			name: "socket",
			setup: func(t *testing.T, dir, path string) {
				fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { syscall.Close(fd) })
				if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
					t.Skipf("cannot bind a Unix socket at %s: %v", path, err)
				}
			},
			max:      1 << 20,
			wantErr:  ErrNotRegular,
			wantKind: "socket",
		},
	})
}

// A named pipe swapped in between ReadRegular's Lstat and its open is opened
// without blocking and refused; openRegular is what stands between them.
func TestOpenRegularNamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "DomainList.txt")
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := openRegular(path)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("openRegular of a named pipe: %v; want it opened without blocking, for Stat to refuse", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("openRegular blocked on a named pipe")
	}
}

// A symbolic link swapped in between ReadRegular's Lstat and its open is not
// followed.
func TestOpenRegularSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "PortStore.txt")
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, "secret", path)
	f, err := openRegular(path)
	if err == nil {
		f.Close()
		t.Fatal("openRegular followed a symbolic link")
	}
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("openRegular of a symbolic link: %v, want ErrNotRegular", err)
	}
}
