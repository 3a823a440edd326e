package domainlist

import (
	"strings"
	"testing"
)

// TestParseSeed: entries are separated by semicolons, with white space and
// empty entries ignored, and come out canonical; a bad entry is refused by
// its position and text, and a comma is no separator.
func TestParseSeed(t *testing.T) {
	list, err := ParseSeed(" https://My.Example.nhs.uk ; https://*.spineservices.nhs.uk;;http://localhost:8080; ")
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
	if l, err := ParseSeed("  "); l != nil || err != nil {
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
		if _, err := ParseSeed(seed); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseSeed(%q) = %v; want an error with %q", seed, err, wantErr)
		} else if strings.HasPrefix(wantErr, "entry") && !strings.Contains(err.Error(), `separated by ";"`) {
			t.Errorf("ParseSeed(%q) = %v; the error does not say what separates entries", seed, err)
		}
	}
}
