package doctor

import (
	"os"
	"os/user"
	"path/filepath"

	"github.com/cardbridge/cardbridge/policy"
)

// macBrowser is a browser's application bundle and preference domain.
type macBrowser struct {
	id, name, domain, app string
}

var macBrowsers = []macBrowser{
	{"chrome", "Chrome", "com.google.Chrome", "Google Chrome.app"},
	{"chromium", "Chromium", "org.chromium.Chromium", "Chromium.app"},
	{"edge", "Edge", "com.microsoft.Edge", "Microsoft Edge.app"},
}

// managedPrefs is where configuration profiles put managed preferences.
const managedPrefs = "/Library/Managed Preferences"

// findBrowsers lists the installed browsers, and those with policies. The
// managed preference files are usually binary property lists; plutil, on
// every Mac, turns them into JSON.
func findBrowsers() []Browser {
	home, _ := os.UserHomeDir()
	userName := ""
	if u, err := user.Current(); err == nil {
		userName = u.Username
	}
	var out []Browser
	for _, mb := range macBrowsers {
		b := Browser{ID: mb.id, Name: mb.name, Where: mb.domain}
		for _, dir := range []string{"/Applications", filepath.Join(home, "Applications")} {
			if _, err := os.Stat(filepath.Join(dir, mb.app)); err == nil {
				b.Installed = true
			}
		}
		// The user's managed preferences come before the machine's.
		var files []string
		if userName != "" {
			files = append(files, filepath.Join(managedPrefs, userName, mb.domain+".plist"))
		}
		files = append(files, filepath.Join(managedPrefs, mb.domain+".plist"))
		var sources []func() (Policies, error)
		for _, f := range files {
			sources = append(sources, func() (Policies, error) {
				return policy.ReadPlist(f)
			})
		}
		if b.readPolicies(sources...) {
			out = append(out, b)
		}
	}
	return out
}
