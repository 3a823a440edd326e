package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
)

// A state directory without DomainList.txt gets the seed, which the port
// service then takes as it is; an existing file, or anything else of that
// name, is never replaced.
func TestSeedDomainList(t *testing.T) {
	seed := func(text string) *domainlist.List {
		t.Helper()
		l, err := domainlist.ParseSeed(text)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "DomainList.txt")
	var logged bytes.Buffer
	log := zerolog.New(&logged)
	if _, err := New(Options{StateDir: dir, Socket: filepath.Join(dir, "sock"), Logger: log, DomainListSeed: seed("https://cm.example.nhs.uk;https://*.spineservices.nhs.uk")}); err != nil {
		t.Fatal(err)
	}
	seeded, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(seeded), "# version: seed-") || !strings.HasSuffix(string(seeded), "\nhttps://cm.example.nhs.uk\nhttps://*.spineservices.nhs.uk\n") {
		t.Errorf("seeded DomainList.txt:\n%s", seeded)
	}
	if !strings.Contains(logged.String(), "DomainList seeded from install") {
		t.Errorf("log: %s", logged.String())
	}
	// The port service keeps the seeded file as it is (it is clean), and a
	// service started again without the seed too.
	if _, err := New(Options{StateDir: dir, Socket: filepath.Join(dir, "sock"), Logger: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, seeded) {
		t.Errorf("the port service rewrote the seeded DomainList:\n%s\nwas:\n%s", after, seeded)
	}

	// Another seed later (an upgrade with another DOMAINLIST) leaves it.
	own := []byte("# an administrator's own list\nhttps://own.example.nhs.uk\n")
	if err := os.WriteFile(path, own, 0o644); err != nil {
		t.Fatal(err)
	}
	logged.Reset()
	if err := seedDomains(filepath.Join(dir, "DomainList.txt"), seed("https://other.example.nhs.uk"), log); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, own) {
		t.Errorf("a seed replaced an existing DomainList.txt:\n%s", after)
	}
	if !strings.Contains(logged.String(), "the DomainList seed is not used") {
		t.Errorf("log: %s", logged.String())
	}

	// An empty file and a directory are an existing DomainList too.
	for name, mk := range map[string]func(string) error{
		"empty file": func(p string) error { return os.WriteFile(p, nil, 0o644) },
		"directory":  func(p string) error { return os.Mkdir(p, 0o755) },
	} {
		d := t.TempDir()
		p := filepath.Join(d, "DomainList.txt")
		if err := mk(p); err != nil {
			t.Fatal(err)
		}
		if err := seedDomains(filepath.Join(d, "DomainList.txt"), seed("https://other.example.nhs.uk"), zerolog.Nop()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if fi, err := os.Lstat(p); err != nil || (name == "empty file" && fi.Size() != 0) || (name == "directory" && !fi.IsDir()) {
			t.Errorf("%s: after seeding: %v, %v", name, fi, err)
		}
	}

	// No seed, no file.
	d := t.TempDir()
	if err := seedDomains(filepath.Join(d, "DomainList.txt"), seed(""), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(d, "DomainList.txt")); !os.IsNotExist(err) {
		t.Errorf("without a seed DomainList.txt was made (%v)", err)
	}
}
