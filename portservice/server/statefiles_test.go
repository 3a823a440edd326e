package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
)

// secret stands for a file the port service must never show, such as
// /etc/shadow; its lines would be quoted by a log that quotes bad lines.
const secret = "root:$6$Zm9vYmFy$c2VjcmV0:19000:0:99999:7:::\n" +
	"uid:0\tZm9v-port\t2026-01-01T00:00:00Z\n" +
	"https://-Zm9v-secret.nhs.uk\n" +
	"Zm9v-root://shadow.example\n"

// badStateFile is something other than a regular file put where a state file
// should be.
type badStateFile struct {
	name  string
	found string // what the log says was found
	make  func(t *testing.T, path string)
}

// badStateFiles are what a hostile user on a shared host can put in a state
// directory they can write to.
var badStateFiles = []badStateFile{
	{"named pipe", "named pipe", func(t *testing.T, path string) { testutil.Mkfifo(t, path) }},
	{"directory", "directory", func(t *testing.T, path string) {
		if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	{"symbolic link to a secret", "symbolic link", func(t *testing.T, path string) {
		target := filepath.Join(t.TempDir(), "shadow")
		if err := os.WriteFile(target, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		testutil.Symlink(t, target, path)
	}},
}

// checkMovedAside checks that path is a regular file again and that what was
// there was moved aside, logged, and none of secret's content logged.
func checkMovedAside(t *testing.T, path, found, logged string) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s: %v, %v; want a clean regular file", path, fi, err)
	}
	aside, _ := filepath.Glob(path + ".bad-*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: %q, want one %s.bad-... file", aside, filepath.Base(path))
	}
	if fi, err := os.Lstat(aside[0]); err != nil || fi.Mode().IsRegular() {
		t.Errorf("%s: %v, %v; want the %s that was there", aside[0], fi, err, found)
	}
	if !strings.Contains(logged, found) || !strings.Contains(logged, filepath.Base(aside[0])) {
		t.Errorf("the log does not say a %s was found and moved to %s:\n%s", found, aside[0], logged)
	}
	if strings.Contains(strings.ToLower(logged), "zm9v") || strings.Contains(logged, "root:") {
		t.Errorf("the log holds the secret's content:\n%s", logged)
	}
}

// A named pipe, directory or symbolic link as DomainList.txt: the built-in
// list is served, and the thing is moved aside and replaced.
func TestLoadDomainsNotARegularFile(t *testing.T) {
	for _, b := range badStateFiles {
		t.Run(b.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "DomainList.txt")
			b.make(t, path)
			var logs testutil.Buffer
			done := make(chan *domainlist.List, 1)
			go func() { done <- loadDomains(path, zerolog.New(&logs)) }()
			var list *domainlist.List
			select {
			case list = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("loadDomains still blocked after 5 s")
			}
			if list.Version() != "builtin-1" {
				t.Errorf("list version %q, want the built-in list", list.Version())
			}
			checkMovedAside(t, path, b.found, logs.String())
			if disk, err := os.ReadFile(path); err != nil || string(disk) != string(list.Format()) {
				t.Errorf("file holds %q (%v), want the built-in list", disk, err)
			}
		})
	}
}

// A DomainList over 1 MiB is moved aside; the whole lines of its first MiB
// are kept and written back.
func TestLoadDomainsTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "DomainList.txt")
	var b strings.Builder
	b.WriteString("# version: 7\nhttps://a.example\n")
	for b.Len() < maxDomainFile+4096 {
		b.WriteString("# a comment to fill the file\n")
	}
	b.WriteString("https://late.example\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	list := loadDomains(path, zerolog.New(&logs))
	if list.Version() != "7" || list.Len() != 1 || list.Patterns()[0].String() != "https://a.example" {
		t.Errorf("list %q with %v, want version 7 with only https://a.example", list.Version(), list.Patterns())
	}
	aside, _ := filepath.Glob(path + ".bad-*")
	if len(aside) != 1 || !strings.Contains(logs.String(), filepath.Base(aside[0])) {
		t.Errorf("moved aside %q; log:\n%s", aside, logs.String())
	}
	if disk, err := os.ReadFile(path); err != nil || string(disk) != string(list.Format()) {
		t.Errorf("file holds %d bytes (%v), want the clean list", len(disk), err)
	}
}

// Bad DomainList lines are logged by number and reason, never quoted.
func TestLoadDomainsLogsNoLineContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "DomainList.txt")
	if err := os.WriteFile(path, []byte("https://a.example\n"+secret), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	if list := loadDomains(path, zerolog.New(&logs)); list.Len() != 1 {
		t.Errorf("list %v, want https://a.example only", list.Patterns())
	}
	logged := logs.String()
	for _, n := range []string{`"line":2`, `"line":3`, `"line":4`, `"line":5`} {
		if !strings.Contains(logged, n) {
			t.Errorf("bad %s not logged:\n%s", n, logged)
		}
	}
	if strings.Contains(strings.ToLower(logged), "zm9v") || strings.Contains(logged, "root:") {
		t.Errorf("the log quotes the file's lines:\n%s", logged)
	}
}

// A named pipe, directory or symbolic link to a secret as PortStore.txt or
// DomainList.txt: the service starts, gives an agent its port, stops within
// 2 s of being asked to, never logs the secret, and has moved the thing aside
// and written a clean file in its place.
func TestServiceWithBadStateFiles(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"PortStore.txt", "DomainList.txt"} {
		for _, b := range badStateFiles {
			t.Run(file+" is a "+b.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, file)
				b.make(t, path)
				var logs testutil.Buffer
				opt := Options{StateDir: dir, Ports: []int{testutil.FreePort(t)}, Range: portservice.Range{Lo: 57100, Hi: 57109}, Socket: testSocket(dir), Logger: zerolog.New(&logs)}
				type result struct {
					s   *Service
					err error
				}
				opened := make(chan result, 1)
				go func() { s, err := New(opt); opened <- result{s, err} }()
				var s *Service
				select {
				case r := <-opened:
					if r.err != nil {
						t.Fatalf("New: %v", r.err)
					}
					s = r.s
				case <-time.After(5 * time.Second):
					t.Fatal("New still blocked after 5 s")
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx) }()
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				defer rcancel()
				var reg *portservice.Registration
				for reg == nil {
					if reg, err = portservice.Register(rctx, opt.Socket, me); err != nil {
						if rctx.Err() != nil {
							t.Fatalf("Register: %v", err)
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
				if !opt.Range.Contains(reg.Port) {
					t.Errorf("registered on port %d, want one of %s", reg.Port, opt.Range)
				}
				reg.Close()
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Run: %v", err)
					}
				case <-time.After(2 * time.Second):
					t.Fatal("the service did not stop within 2 s of being asked to")
				}
				checkMovedAside(t, path, b.found, logs.String())
			})
		}
	}
}
