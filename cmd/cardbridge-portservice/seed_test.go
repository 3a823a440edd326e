package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/internal/cli"
)

// TestSeedRefusedAtStart: `run` and `install` refuse a bad seed as a usage
// error naming the entry, before anything is written.
func TestSeedRefusedAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"run", "--state-dir", dir, "--domainlist-seed", "https://ok.nhs.uk;ok.nhs.uk"}, &out, &errOut)
	if code != cli.ExitUsage || !strings.Contains(errOut.String(), `--domainlist-seed: entry 2, "ok.nhs.uk": missing scheme`) {
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
