package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/portservice/server"
)

// TestParseSeed: entries are separated by semicolons, with white space and
// empty entries ignored, and come out canonical; a bad entry is refused by
// its position and text, and a comma is no separator.
func TestParseSeed(t *testing.T) {
	list, err := parseSeed(" https://My.Example.nhs.uk ; https://*.spineservices.nhs.uk;;http://localhost:8080; ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://my.example.nhs.uk", "https://*.spineservices.nhs.uk", "http://localhost:8080"}
	if got := list.Entries(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("entries %q, want %q", got, want)
	}
	if !strings.HasPrefix(list.Version(), "seed-") {
		t.Errorf("version %q, want seed-...", list.Version())
	}
	if !list.Allows("https://a.spineservices.nhs.uk") || list.Allows("https://evil.example") {
		t.Error("the seeded list does not match as its entries say")
	}
	if l, err := parseSeed("  "); l != nil || err != nil {
		t.Errorf("a blank seed gave %v, %v; want no seed", l, err)
	}
	for seed, wantErr := range map[string]string{
		"https://ok.nhs.uk;my.esr.nhs.uk":         `entry 2, "my.esr.nhs.uk": missing scheme`,
		"https://ok.nhs.uk,https://other.nhs.uk":  `entry 1, "https://ok.nhs.uk,https://other.nhs.uk"`,
		"https://*.uk":                            `entry 1, "https://*.uk"`,
		";;":                                      "holds no entry",
		"https://ok.nhs.uk;https://a b.nhs.uk":    `entry 2`,
		"https://ok.nhs.uk/path;https://x.nhs.uk": `entry 1`,
	} {
		if _, err := parseSeed(seed); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("parseSeed(%q) = %v; want an error with %q", seed, err, wantErr)
		} else if strings.HasPrefix(wantErr, "entry") && !strings.Contains(err.Error(), `separated by ";"`) {
			t.Errorf("parseSeed(%q) = %v; the error does not say what separates entries", seed, err)
		}
	}
}

// TestSeedDomainList: a state directory without DomainList.txt gets the
// seed, which the port service then takes as it is; an existing file, or
// anything else of that name, is never replaced.
func TestSeedDomainList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "DomainList.txt")
	var logged bytes.Buffer
	log := zerolog.New(&logged)
	if err := seedDomainList(dir, "https://cm.example.nhs.uk;https://*.spineservices.nhs.uk", log); err != nil {
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
	// The port service keeps the seeded file as it is (it is clean).
	if _, err := server.New(server.Options{StateDir: dir, Socket: filepath.Join(dir, "sock"), Logger: zerolog.Nop()}); err != nil {
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
	if err := seedDomainList(dir, "https://other.example.nhs.uk", log); err != nil {
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
		if err := seedDomainList(d, "https://other.example.nhs.uk", zerolog.Nop()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if fi, err := os.Lstat(p); err != nil || (name == "empty file" && fi.Size() != 0) || (name == "directory" && !fi.IsDir()) {
			t.Errorf("%s: after seeding: %v, %v", name, fi, err)
		}
	}

	// No seed, no file.
	d := t.TempDir()
	if err := seedDomainList(d, "", zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(d, "DomainList.txt")); !os.IsNotExist(err) {
		t.Errorf("without a seed DomainList.txt was made (%v)", err)
	}
}

// TestSeedRefusedAtStart: `run` and `install` refuse a bad seed as a usage
// error naming the entry, before anything is written.
func TestSeedRefusedAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"run", "--state-dir", dir, "--domainlist-seed", "https://ok.nhs.uk;ok.nhs.uk"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), `--domainlist-seed: entry 2, "ok.nhs.uk": missing scheme`) {
		t.Errorf("run: exit %d, stderr %q", code, errOut.String())
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused start made the state directory (%v)", err)
	}
	if _, err := installArgs([]string{"--domainlist-seed", "https://*.nhs.uk.;x"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--domainlist-seed: entry 1") {
		t.Errorf("install took a bad seed: %v", err)
	}
	got, err := installArgs([]string{"--domainlist-seed", "https://cm.example.nhs.uk;https://my.esr.nhs.uk"}, &out, &errOut)
	if err != nil || strings.Join(got, " ") != "--domainlist-seed https://cm.example.nhs.uk;https://my.esr.nhs.uk" {
		t.Errorf("installArgs = %q, %v", got, err)
	}
}
