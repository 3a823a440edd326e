package doctor

import (
	"os"
	"path/filepath"

	"github.com/cardbridge/cardbridge/policy"
)

// linuxBrowser is where a browser lives and reads its policies on Linux.
type linuxBrowser struct {
	id, name string
	policies string   // holds managed/ and recommended/
	binaries []string // any of them means installed
}

var linuxBrowsers = []linuxBrowser{
	{"chrome", "Chrome", "/etc/opt/chrome/policies", []string{"/opt/google/chrome/chrome", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"}},
	{"chromium", "Chromium", "/etc/chromium/policies", []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium", "/snap/bin/chromium"}},
	{"edge", "Edge", "/etc/opt/edge/policies", []string{"/opt/microsoft/msedge/msedge", "/usr/bin/microsoft-edge", "/usr/bin/microsoft-edge-stable"}},
}

// findBrowsers lists the installed browsers, and those with policies.
func findBrowsers() []Browser { return browsersUnder("/") }

// browsersUnder is findBrowsers on a file system rooted at root.
func browsersUnder(root string) []Browser {
	var out []Browser
	for _, lb := range linuxBrowsers {
		b := Browser{ID: lb.id, Name: lb.name, Where: filepath.Join(lb.policies, "managed")}
		for _, bin := range lb.binaries {
			if _, err := os.Stat(filepath.Join(root, bin)); err == nil {
				b.Installed = true
				break
			}
		}
		var sources []func() (Policies, error)
		for _, sub := range []string{"managed", "recommended"} {
			dir := filepath.Join(root, lb.policies, sub)
			sources = append(sources, func() (Policies, error) { return policy.ReadJSONDir(dir) })
		}
		if b.readPolicies(sources...) {
			out = append(out, b)
		}
	}
	return out
}
