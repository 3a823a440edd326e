package doctor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestURLPatternCovers(t *testing.T) {
	type origin struct {
		scheme, host string
		wildcard     bool
		port         int
	}
	esr := origin{"https", "my.esr.nhs.uk", false, 0}
	spine := origin{"https", "spineservices.nhs.uk", true, 0} // https://*.spineservices.nhs.uk
	local := origin{"http", "localhost", false, 0}
	cases := []struct {
		pattern string
		o       origin
		want    bool
	}{
		{"https://my.esr.nhs.uk", esr, true},
		{"my.esr.nhs.uk", esr, true},
		{"HTTPS://My.ESR.nhs.uk/", esr, true},
		{"https://my.esr.nhs.uk:443", esr, true},
		{"https://my.esr.nhs.uk:8443", esr, false},
		{"https://my.esr.nhs.uk:*", esr, true},
		{"http://my.esr.nhs.uk", esr, false},
		{"*://my.esr.nhs.uk", esr, true},
		{"https://[*.]nhs.uk", esr, true},
		{"[*.]esr.nhs.uk", esr, true},
		{"[*.]my.esr.nhs.uk", esr, true},
		{"https://esr.nhs.uk", esr, false},
		{"https://other.esr.nhs.uk", esr, false},
		{"*", esr, true},
		{"https://*", esr, true},
		{"https://[*.]spineservices.nhs.uk", spine, true},
		{"[*.]nhs.uk", spine, true},
		{"https://spineservices.nhs.uk", spine, false}, // the bare host, not the names under it
		{"https://a.spineservices.nhs.uk", spine, false},
		{"[*.]localhost", local, true},
		{"localhost", local, true},
		{"http://localhost:*", local, true},
		{"https://localhost", local, false},
		{"127.0.0.1", origin{"http", "127.0.0.1", false, 0}, true},
		{"[::1]:80", origin{"http", "[::1]", false, 0}, true},
		{"", esr, false},
		{"https://", esr, false},
		{"[::1", local, false},
	}
	for _, c := range cases {
		got := anyCovers([]string{c.pattern}, c.o.scheme, c.o.host, c.o.wildcard, c.o.port) != ""
		if got != c.want {
			t.Errorf("%q covers %+v = %v, want %v", c.pattern, c.o, got, c.want)
		}
	}
}

func TestURLPatternTouches(t *testing.T) {
	// https://*.spineservices.nhs.uk: which block-list patterns block some of it.
	cases := map[string]bool{
		"https://x.spineservices.nhs.uk":      true,
		"a.b.spineservices.nhs.uk":            true,
		"[*.]x.spineservices.nhs.uk":          true,
		"[*.]spineservices.nhs.uk":            true,
		"[*.]nhs.uk":                          true,
		"*":                                   true,
		"https://spineservices.nhs.uk":        false, // the bare host is not in the entry
		"http://x.spineservices.nhs.uk":       false,
		"https://x.spineservices.nhs.uk:8443": false,
		"https://xspineservices.nhs.uk":       false,
		"https://my.esr.nhs.uk":               false,
		"[*.]esr.nhs.uk":                      false,
	}
	for pattern, want := range cases {
		if got := anyTouches([]string{pattern}, "https", "spineservices.nhs.uk", true, 0) != ""; got != want {
			t.Errorf("%q touches https://*.spineservices.nhs.uk = %v, want %v", pattern, got, want)
		}
	}
	// An entry for one origin is touched exactly when it is covered.
	for _, pattern := range []string{"https://my.esr.nhs.uk", "[*.]nhs.uk", "https://x.my.esr.nhs.uk", "http://my.esr.nhs.uk"} {
		touches := anyTouches([]string{pattern}, "https", "my.esr.nhs.uk", false, 0) != ""
		covers := anyCovers([]string{pattern}, "https", "my.esr.nhs.uk", false, 0) != ""
		if touches != covers {
			t.Errorf("%q: touches %v, covers %v", pattern, touches, covers)
		}
	}
}

func TestPoliciesTypes(t *testing.T) {
	p := Policies{"a": true, "b": float64(0), "c": uint64(1), "d": "x", "l": []any{"one", 2.0, "two"}, "r": []string{"x"}, "n": float64(2)}
	for name, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if v, set := p.Bool(name); !set || v != want {
			t.Errorf("Bool(%s) = %v %v", name, v, set)
		}
	}
	if _, set := p.Bool("d"); set {
		t.Error("a string read as a bool")
	}
	if _, set := p.Bool("missing"); set {
		t.Error("a missing policy is set")
	}
	if n, ok := p.Int("n"); !ok || n != 2 {
		t.Errorf("Int = %d %v", n, ok)
	}
	if l, set := p.List("l"); !set || !reflect.DeepEqual(l, []string{"one", "two"}) {
		t.Errorf("List(l) = %v %v", l, set)
	}
	if l, set := p.List("r"); !set || !reflect.DeepEqual(l, []string{"x"}) {
		t.Errorf("List(r) = %v %v", l, set)
	}
	if _, set := p.List("d"); set {
		t.Error("a string read as a list")
	}
}

// The pure part of reading policies from the Windows registry: values are
// policies, subkeys are lists numbered "1", "2", ...
func TestPoliciesFromRegistry(t *testing.T) {
	p := policiesFromRegistry(
		map[string]any{"BlockThirdPartyCookies": uint64(1), "DefaultCookiesSetting": uint64(2), "HomepageLocation": "https://nhs.uk"},
		map[string]map[string]any{
			"LocalNetworkAccessAllowedForUrls": {"10": "https://ten.example", "2": "https://[*.]spineservices.nhs.uk", "1": "https://my.esr.nhs.uk", "x": "ignored", "3": uint64(5), "0": "ignored too"},
			"CookiesAllowedForUrls":            {},
			"Recommended":                      {"1": "not a list policy"},
		})
	if v, set := p.Bool("BlockThirdPartyCookies"); !v || !set {
		t.Errorf("BlockThirdPartyCookies = %v %v", v, set)
	}
	if n, _ := p.Int("DefaultCookiesSetting"); n != 2 {
		t.Errorf("DefaultCookiesSetting = %d", n)
	}
	l, set := p.List("LocalNetworkAccessAllowedForUrls")
	if want := []string{"https://my.esr.nhs.uk", "https://[*.]spineservices.nhs.uk", "https://ten.example"}; !set || !reflect.DeepEqual(l, want) {
		t.Errorf("list = %v, want %v", l, want)
	}
	if l, set := p.List("CookiesAllowedForUrls"); !set || len(l) != 0 {
		t.Errorf("an empty list key = %v %v, want set and empty", l, set)
	}
	if _, ok := p["Recommended"]; ok {
		t.Error("the Recommended subkey was read as a policy")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadPolicyDir(t *testing.T) {
	dir := t.TempDir()
	if p, err := readPolicyDir(filepath.Join(dir, "missing")); err != nil || len(p) != 0 {
		t.Errorf("missing dir: %v %v", p, err)
	}
	writeFile(t, filepath.Join(dir, "a.json"), `{"BlockThirdPartyCookies": true, "LocalNetworkAccessAllowedForUrls": ["https://old.example"]}`)
	writeFile(t, filepath.Join(dir, "b.json"), `{"LocalNetworkAccessAllowedForUrls": ["https://my.esr.nhs.uk"]}`)
	writeFile(t, filepath.Join(dir, "c.json"), `{"broken": `)
	writeFile(t, filepath.Join(dir, "d.json"), `["not", "an", "object"]`)
	writeFile(t, filepath.Join(dir, "notes.txt"), `{"Ignored": true}`)
	p, err := readPolicyDir(dir)
	if err == nil || !strings.Contains(err.Error(), "c.json") || !strings.Contains(err.Error(), "d.json") {
		t.Errorf("error %v, want it to name c.json and d.json", err)
	}
	if v, _ := p.Bool("BlockThirdPartyCookies"); !v {
		t.Error("a.json's policy lost")
	}
	if l, _ := p.List("LocalNetworkAccessAllowedForUrls"); !reflect.DeepEqual(l, []string{"https://my.esr.nhs.uk"}) {
		t.Errorf("the later file should win: %v", l)
	}
	if _, ok := p["Ignored"]; ok {
		t.Error("read a file that is not .json")
	}
}
