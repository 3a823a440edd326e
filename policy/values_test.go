package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestValuesTypes(t *testing.T) {
	p := Values{"a": true, "b": float64(0), "c": uint64(1), "d": "x", "l": []any{"one", 2.0, "two"}, "r": []string{"x"}, "n": float64(2)}
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
func TestFromRegistry(t *testing.T) {
	p := FromRegistry(
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

func TestReadJSONDir(t *testing.T) {
	dir := t.TempDir()
	if p, err := ReadJSONDir(filepath.Join(dir, "missing")); err != nil || len(p) != 0 {
		t.Errorf("missing dir: %v %v", p, err)
	}
	writeFile(t, filepath.Join(dir, "a.json"), `{"BlockThirdPartyCookies": true, "LocalNetworkAccessAllowedForUrls": ["https://old.example"]}`)
	writeFile(t, filepath.Join(dir, "b.json"), `{"LocalNetworkAccessAllowedForUrls": ["https://my.esr.nhs.uk"]}`)
	writeFile(t, filepath.Join(dir, "c.json"), `{"broken": `)
	writeFile(t, filepath.Join(dir, "d.json"), `["not", "an", "object"]`)
	writeFile(t, filepath.Join(dir, "notes.txt"), `{"Ignored": true}`)
	p, err := ReadJSONDir(dir)
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
