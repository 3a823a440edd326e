//go:build !windows && !darwin

package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policy.d's files override policy.json and each other in name order; a
// broken file is reported and the others still apply.
func TestDirSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if s := load(dirSources(dir)); len(s.Values()) != 0 || len(s.Problems) != 0 {
		t.Fatalf("no files: %+v", s)
	}
	write("policy.json", `{"LogLevel": "debug", "Ports": "43487", "TrustedURL": "https://a.example/list"}`)
	write("policy.d/10-site.json", `{"LogLevel": "warn"}`)
	write("policy.d/20-site.json", `{"LogLevel": "error", "Range": "56000-56999"}`)
	write("policy.d/30-broken.json", `{"LogLevel": `)
	write("policy.d/notes.txt", `{"LogLevel": "info"}`)
	s := load(dirSources(dir))
	for name, want := range map[string]string{
		"LogLevel":   "error@" + filepath.Join(dir, "policy.d/20-site.json"),
		"Range":      "56000-56999@" + filepath.Join(dir, "policy.d/20-site.json"),
		"Ports":      "43487@" + filepath.Join(dir, "policy.json"),
		"TrustedURL": "https://a.example/list@" + filepath.Join(dir, "policy.json"),
	} {
		v, ok := s.Get(name)
		if got := v.Text + "@" + v.Where; !ok || got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "30-broken.json") {
		t.Errorf("problems %q, want one naming 30-broken.json", s.Problems)
	}
}
