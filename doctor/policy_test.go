package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/policy"
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

// doctor lists what policy imposes and where, warns of policies ignored as
// wrong, and checks the PIN prompt a PINPrompt policy names over the
// agent's flag.
func TestPolicyCheck(t *testing.T) {
	f := healthy()
	f.policies = policy.Of(`HKLM\SOFTWARE\Policies\cardbridge`, policy.Values{
		"LogLevel":   "debug",
		"DomainList": []string{"https://my.esr.nhs.uk", "https://x.example"},
		"PINPrompt":  `C:\policy\pin.exe`,
		"Colour":     "blue",
	})
	opt := options(f)
	opt.PINEntry = `C:\flag\pin.exe`
	opt.GOOS = "windows"
	r := Run(context.Background(), opt)
	c := find(t, r, "policy")
	for _, want := range []string{
		`LogLevel = debug (HKLM\SOFTWARE\Policies\cardbridge)`,
		`DomainList = https://my.esr.nhs.uk, https://x.example (HKLM\SOFTWARE\Policies\cardbridge)`,
		"Colour is not a cardbridge policy",
	} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("policy detail %q lacks %q", c.Detail, want)
		}
	}
	if c.Status != Warn || !strings.Contains(c.Fix, `HKLM\SOFTWARE\Policies\cardbridge`) {
		t.Errorf("policy: %s, fix %q; want a warning naming the key", c.Status, c.Fix)
	}
	if len(f.pinAsked) == 0 || f.pinAsked[0] != `C:\policy\pin.exe` {
		t.Errorf("PIN prompt checked for %q, want the policy's program", f.pinAsked)
	}
}
