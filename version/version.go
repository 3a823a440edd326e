// Package version says which build of cardbridge is running.
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Version is the release, set at build time with
// -ldflags "-X github.com/cardbridge/cardbridge/version.Version=1.2.3".
var Version = "0.1.0-dev"

// commit is the VCS revision, set at build time like Version or read from
// the Go build information.
var commit = ""

var readCommit = sync.OnceValue(func() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
})

// Commit is the source revision the binary was built from, or "unknown".
func Commit() string { return readCommit() }

// Info is the build description that `cardbridge version` and
// /api/versioninfo report.
type Info struct {
	Product string `json:"product"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// Get describes this build.
func Get() Info {
	return Info{Product: "cardbridge", Version: Version, Commit: Commit(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

// String is a one-line description, e.g.
// "cardbridge 0.1.0 (commit 1a2b3c4d5e6f, go1.26.8, linux/amd64)".
func (i Info) String() string {
	return i.Product + " " + i.Version + " (commit " + i.Commit + ", " + i.Go + ", " + i.OS + "/" + i.Arch + ")"
}
