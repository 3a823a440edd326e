package doctor

import (
	"os"
	"strings"

	"golang.org/x/sys/windows/registry"

	"github.com/cardbridge/cardbridge/policy"
)

// winBrowser is where a browser is installed and keeps its policies.
type winBrowser struct {
	id, name, key string
	exes          []string // %VAR% expanded; any of them means installed
}

var winBrowsers = []winBrowser{
	{"chrome", "Chrome", `SOFTWARE\Policies\Google\Chrome`, []string{
		`%ProgramFiles%\Google\Chrome\Application\chrome.exe`,
		`%ProgramFiles(x86)%\Google\Chrome\Application\chrome.exe`,
		`%LOCALAPPDATA%\Google\Chrome\Application\chrome.exe`}},
	{"chromium", "Chromium", `SOFTWARE\Policies\Chromium`, []string{
		`%LOCALAPPDATA%\Chromium\Application\chrome.exe`,
		`%ProgramFiles%\Chromium\Application\chrome.exe`}},
	{"edge", "Edge", `SOFTWARE\Policies\Microsoft\Edge`, []string{
		`%ProgramFiles(x86)%\Microsoft\Edge\Application\msedge.exe`,
		`%ProgramFiles%\Microsoft\Edge\Application\msedge.exe`}},
}

// findBrowsers lists the installed browsers, and those with policies:
// machine policies (HKLM) over the user's (HKCU), and both over the
// recommended ones.
func findBrowsers() []Browser {
	var out []Browser
	for _, wb := range winBrowsers {
		b := Browser{ID: wb.id, Name: wb.name, Where: `HKLM\` + wb.key}
		for _, exe := range wb.exes {
			if p := expandPercent(exe); p != "" {
				if _, err := os.Stat(p); err == nil {
					b.Installed = true
					break
				}
			}
		}
		var sources []func() (Policies, error)
		for _, src := range []struct {
			root registry.Key
			path string
		}{
			{registry.LOCAL_MACHINE, wb.key},
			{registry.CURRENT_USER, wb.key},
			{registry.LOCAL_MACHINE, wb.key + `\Recommended`},
			{registry.CURRENT_USER, wb.key + `\Recommended`},
		} {
			sources = append(sources, func() (Policies, error) { return policy.ReadRegistry(src.root, src.path) })
		}
		if b.readPolicies(sources...) {
			out = append(out, b)
		}
	}
	return out
}

// expandPercent expands %VAR% references; "" when one is unset.
func expandPercent(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		v := os.Getenv(s[i+1 : i+1+j])
		if v == "" {
			return ""
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+j:]
	}
}
