package doctor

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

func TestBrowsersUnder(t *testing.T) {
	root := t.TempDir()
	// Chrome installed with managed and recommended policies; Chromium not
	// installed but with a policy; Edge neither.
	testutil.WriteFile(t, filepath.Join(root, "opt/google/chrome/chrome"), "")
	testutil.WriteFile(t, filepath.Join(root, "etc/opt/chrome/policies/managed/nhs.json"),
		`{"LocalNetworkAccessAllowedForUrls": ["https://my.esr.nhs.uk"], "BlockThirdPartyCookies": false}`)
	testutil.WriteFile(t, filepath.Join(root, "etc/opt/chrome/policies/recommended/r.json"),
		`{"BlockThirdPartyCookies": true, "CookiesAllowedForUrls": ["[*.]localhost"]}`)
	testutil.WriteFile(t, filepath.Join(root, "etc/chromium/policies/managed/x.json"), `{"DefaultCookiesSetting": 2}`)

	brs := browsersUnder(root)
	if len(brs) != 2 || brs[0].ID != "chrome" || brs[1].ID != "chromium" {
		t.Fatalf("browsers = %+v", brs)
	}
	chrome, chromium := brs[0], brs[1]
	if !chrome.Installed || chrome.Err != nil || chrome.Where != "/etc/opt/chrome/policies/managed" {
		t.Errorf("chrome = %+v", chrome)
	}
	if l, _ := chrome.Policies.List("LocalNetworkAccessAllowedForUrls"); !reflect.DeepEqual(l, []string{"https://my.esr.nhs.uk"}) {
		t.Errorf("chrome LNA = %v", l)
	}
	if v, _ := chrome.Policies.Bool("BlockThirdPartyCookies"); v {
		t.Error("a recommended policy overrode a managed one")
	}
	if l, _ := chrome.Policies.List("CookiesAllowedForUrls"); len(l) != 1 {
		t.Error("a recommended policy no managed one sets was lost")
	}
	if chromium.Installed {
		t.Error("chromium found installed")
	}
	if n, _ := chromium.Policies.Int("DefaultCookiesSetting"); n != 2 {
		t.Errorf("chromium policies = %v", chromium.Policies)
	}

	// The checks on what was read.
	cs := checkBrowsers(brs, []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "linux")
	got := map[string]Status{}
	for _, c := range cs {
		got[c.ID] = c.Status
	}
	want := map[string]Status{"browser-lna-chrome": Warn, "browser-cookies-chrome": OK, "browser-lna-chromium": Warn, "browser-cookies-chromium": Warn}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func TestBrowsersUnderBadFile(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFile(t, filepath.Join(root, "usr/bin/chromium"), "")
	testutil.WriteFile(t, filepath.Join(root, "etc/chromium/policies/managed/bad.json"), "{")
	brs := browsersUnder(root)
	if len(brs) != 1 || brs[0].Err == nil {
		t.Fatalf("browsers = %+v", brs)
	}
	cs := checkBrowsers(brs, []string{"https://my.esr.nhs.uk"}, "linux")
	if cs[0].Status != Info || cs[0].Fix == "" {
		t.Errorf("an unreadable policy file: %+v", cs[0])
	}
}
