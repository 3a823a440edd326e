//go:build unix

package agentd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// An agent given a --domains that is not a regular file, or is larger than
// 1 MiB, says so and stops at once, without reading it.
func TestAgentRefusesBadDomainsFile(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string) string // returns the --domains path
		want string                                 // in the error
	}{
		{"/dev/zero", func(t *testing.T, path string) string { return "/dev/zero" }, "not a regular file (character device)"},
		{"symbolic link to /dev/zero", func(t *testing.T, path string) string {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
			return path
		}, "not a regular file (symbolic link)"},
		{"named pipe", func(t *testing.T, path string) string {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, "not a regular file (named pipe)"},
		{"directory", func(t *testing.T, path string) string {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			return path
		}, "not a regular file (directory)"},
		{"larger than 1 MiB", func(t *testing.T, path string) string {
			if err := os.WriteFile(path, bytes.Repeat([]byte("https://a.example\n"), maxDomainsFile/10), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}, "larger than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			domains := tt.make(t, filepath.Join(dir, "DomainList.txt"))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, Options{Listen: "127.0.0.1:0", LogFile: filepath.Join(dir, "agent.log"), Domains: domains})
			}()
			select {
			case err := <-done:
				if err == nil || !strings.HasPrefix(err.Error(), "load --domains: read "+domains+": ") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Run = %v; want an error saying %q", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the agent had not stopped 5 s after starting with a bad --domains")
			}
		})
	}
}

// A --domains file replaced by a named pipe, a directory or a symbolic link
// while the agent runs: the watcher logs it, keeps the list in force, loads
// a good file put back later, and stops within a second of its context
// ending.
func TestDomainsWatchKeepsListOnBadReload(t *testing.T) {
	tests := []struct {
		name  string
		swap  func(t *testing.T, path string)
		found string
	}{
		{"named pipe", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "named pipe"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "directory"},
		{"symbolic link to /dev/zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "DomainList.txt")
			if err := os.WriteFile(path, []byte("# version: 1\nhttps://a.example\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs testutil.Buffer
			d, err := newDomainSource(path, zerolog.New(&logs))
			if err != nil {
				t.Fatal(err)
			}
			d.every = 20 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stopped := make(chan struct{})
			go func() { d.watch(ctx); close(stopped) }()

			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			tt.swap(t, path)
			waitFor(t, &logs, "keeping the DomainList in force", 8*time.Second)
			if !strings.Contains(logs.String(), tt.found) {
				t.Errorf("the log does not say a %s was found:\n%s", tt.found, logs.String())
			}
			if info := d.get(); info.List.Version() != "1" || info.List.Len() != 1 {
				t.Errorf("list in force: version %q, %d entries; want the one loaded first", info.List.Version(), info.List.Len())
			}

			// The watcher is not stuck: a good file put back is loaded.
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("# version: 2\nhttps://b.example\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			waitVersion(t, d, "2", &logs)

			cancel()
			select {
			case <-stopped:
			case <-time.After(time.Second):
				t.Fatal("the watcher did not stop within 1 s of its context ending")
			}
		})
	}
}
