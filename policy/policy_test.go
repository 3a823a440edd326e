package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixed(v Values, err error) func() (Values, error) {
	return func() (Values, error) { return v, err }
}

// The first source to set a setting wins; a per-user source may set only
// per-user settings; unknown names and wrong types are reported, not used.
func TestLoadPrecedenceAndProblems(t *testing.T) {
	s := load([]source{
		{where: `HKLM\K`, named: true, read: fixed(Values{
			"LogLevel":     "warn",
			"UpgradeCheck": uint64(600),
			"Ports":        uint64(5), // wrong type
			"Colour":       "blue",    // unknown
			"DomainList":   []string{"https://my.esr.nhs.uk"},
		}, nil)},
		{where: `HKCU\K`, named: true, perUser: true, read: fixed(Values{
			"LogLevel":   "debug",                // the machine's wins
			"PINPrompt":  `C:\pin.exe`,           // per-user: taken
			"TrustedURL": "https://evil.example", // machine only
		}, nil)},
		{where: "broken", read: fixed(nil, errors.New("access denied"))},
	})
	check := func(name, want, where string) {
		t.Helper()
		v, ok := s.Get(name)
		if !ok || v.String() != want || v.Where != where {
			t.Errorf("%s = %+v %v, want %q from %q", name, v, ok, want, where)
		}
	}
	check("LogLevel", "warn", `HKLM\K\LogLevel`)
	check("UpgradeCheck", "600s", `HKLM\K\UpgradeCheck`)
	check("PINPrompt", `C:\pin.exe`, `HKCU\K\PINPrompt`)
	check("DomainList", "https://my.esr.nhs.uk", `HKLM\K\DomainList`)
	for _, name := range []string{"Ports", "TrustedURL", "Colour"} {
		if v, ok := s.Get(name); ok {
			t.Errorf("%s set to %+v", name, v)
		}
	}
	problems := strings.Join(s.Problems, "\n")
	for _, want := range []string{
		`HKLM\K: Ports must be text, not a number; ignored`,
		`HKLM\K: Colour is not a cardbridge policy; ignored`,
		`HKCU\K: TrustedURL can be set for the whole machine only; ignored`,
		"cannot read the policies of broken: access denied",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
	if v, ok := s.ForFlag("log-level"); !ok || v.Text != "warn" {
		t.Errorf("ForFlag(log-level) = %+v %v", v, ok)
	}
	if _, ok := s.ForFlag("listen"); ok {
		t.Error("a policy stands for --listen")
	}
	var none *Set
	if _, ok := none.ForFlag("log-level"); ok {
		t.Error("no policies set a flag")
	}
}

func TestConvertNumbers(t *testing.T) {
	st, _ := Lookup("upgradecheck") // names are matched as the registry does
	for raw, want := range map[any]string{float64(30): "30s", "45": "45s", uint64(0): "0s"} {
		if v, err := convert(st, raw); err != nil || v.Text != want {
			t.Errorf("convert(%v) = %q, %v; want %q", raw, v.Text, err, want)
		}
	}
	for _, raw := range []any{float64(1.5), float64(-1), "soon", true, []any{"1"}} {
		if v, err := convert(st, raw); err == nil {
			t.Errorf("convert(%v) = %q, want an error", raw, v.Text)
		}
	}
	list, _ := Lookup("DomainList")
	if _, err := convert(list, []any{"https://a.example", 5.0}); err == nil {
		t.Error("a list with a number in it was taken")
	}
	if v, err := convert(list, []any{"https://a.example"}); err != nil || !reflect.DeepEqual(v.List, []string{"https://a.example"}) {
		t.Errorf("convert(list) = %v, %v", v.List, err)
	}
}

func TestImposedDomainList(t *testing.T) {
	s := load([]source{{where: "/etc/cardbridge/policy.json", read: fixed(Values{
		"DomainList": []any{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk", "not a url", "https://evil.example\nhttps://x.example", "# comment"},
	}, nil)}})
	imp, err := s.DomainList()
	if err != nil || imp == nil {
		t.Fatalf("DomainList() = %v, %v", imp, err)
	}
	if imp.Source != "policy:/etc/cardbridge/policy.json" {
		t.Errorf("source %q", imp.Source)
	}
	if !imp.List.Allows("https://my.esr.nhs.uk") || !imp.List.Allows("https://portal.spineservices.nhs.uk") || imp.List.Allows("https://x.example") || imp.List.Allows("https://evil.example") {
		t.Errorf("list %v", imp.List.Entries())
	}
	var lines []int
	for _, e := range imp.Bad {
		lines = append(lines, e.Line)
	}
	if !reflect.DeepEqual(lines, []int{3, 4, 5}) {
		t.Errorf("bad entries %v, want 3, 4 and 5", lines)
	}
	if !strings.HasPrefix(imp.List.Version(), "policy-") {
		t.Errorf("version %q", imp.List.Version())
	}

	// An empty list is the administrator's: nothing allowed.
	empty, _ := load([]source{{where: "p", read: fixed(Values{"DomainList": []any{}}, nil)}}).DomainList()
	if empty == nil || empty.List.Len() != 0 {
		t.Errorf("empty policy list = %+v", empty)
	}

	// No policy: nothing imposed.
	if imp, err := load(nil).DomainList(); imp != nil || err != nil {
		t.Errorf("no policy: %v %v", imp, err)
	}

	// A file named by DomainListFile.
	dir := t.TempDir()
	file := filepath.Join(dir, "DomainList.txt")
	if err := os.WriteFile(file, []byte("https://my.esr.nhs.uk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := load([]source{{where: "p", read: fixed(Values{"DomainListFile": file}, nil)}})
	if imp, err := fs.DomainList(); err != nil || imp == nil || !imp.List.Allows("https://my.esr.nhs.uk") || !strings.Contains(imp.Source, "file:"+file) {
		t.Errorf("DomainListFile: %+v %v", imp, err)
	}
	missing := load([]source{{where: "p", read: fixed(Values{"DomainListFile": filepath.Join(dir, "gone.txt")}, nil)}})
	if imp, err := missing.DomainList(); err == nil || imp != nil {
		t.Errorf("a missing DomainListFile gave %+v %v, want an error", imp, err)
	}
}
