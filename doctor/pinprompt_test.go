package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/pinentry"
	"github.com/cardbridge/cardbridge/pinprompt"
)

func TestPINPromptCheck(t *testing.T) {
	exe := fakeFile{size: 1000, mod: time.Now(), mode: 0o755}
	cases := []struct {
		name       string
		goos       string
		configured string
		choice     pinprompt.Choice
		err        error
		files      map[string]fakeFile
		want       Status
		detail     string // in Detail
		fix        string // in Fix
	}{
		{name: "Windows dialog", goos: "windows", choice: pinprompt.Choice{Kind: pinprompt.KindWindowsDialog},
			want: OK, detail: "the Windows credential dialog"},
		{name: "graphical pinentry found", goos: "linux", choice: pinprompt.Choice{Kind: pinprompt.KindPinentry, Path: "/usr/bin/pinentry-gnome3"},
			files: map[string]fakeFile{"/usr/bin/pinentry-gnome3": exe}, want: OK, detail: "/usr/bin/pinentry-gnome3 (found)"},
		{name: "configured program", goos: "linux", configured: "/opt/pin/pinentry-qt",
			choice: pinprompt.Choice{Kind: pinprompt.KindPinentry, Path: "/opt/pin/pinentry-qt", Configured: true},
			files:  map[string]fakeFile{"/opt/pin/pinentry-qt": exe}, want: OK, detail: "(configured)"},
		{name: "only pinentry-curses", goos: "linux", choice: pinprompt.Choice{Kind: pinprompt.KindPinentry, Path: "/usr/bin/pinentry-curses"},
			files: map[string]fakeFile{"/usr/bin/pinentry-curses": exe}, want: Fail, detail: "works only in a terminal", fix: "apt-get install pinentry-gnome3"},
		{name: "none on Linux", goos: "linux", err: &testNotFound{}, want: Fail, detail: "signing cannot ask for the PIN", fix: "apt-get install pinentry-gnome3"},
		{name: "none on macOS", goos: "darwin", err: &testNotFound{}, want: Fail, fix: "brew install pinentry-mac"},
		{name: "configured program missing", goos: "linux", configured: "/nonexistent/pinentry",
			choice: pinprompt.Choice{Kind: pinprompt.KindPinentry, Path: "/nonexistent/pinentry", Configured: true},
			want:   Fail, detail: "/nonexistent/pinentry cannot be run", fix: "--pinentry"},
		{name: "found program not executable", goos: "linux", choice: pinprompt.Choice{Kind: pinprompt.KindPinentry, Path: "/usr/bin/pinentry-qt"},
			files: map[string]fakeFile{"/usr/bin/pinentry-qt": {mode: 0o644}}, want: Fail, detail: "not an executable program"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := healthy()
			f.pinPrompt, f.pinPromptErr, f.files = c.choice, c.err, c.files
			opt := options(f)
			opt.GOOS, opt.PINEntry = c.goos, c.configured
			r := Run(context.Background(), opt)
			got := find(t, r, "pin-prompt")
			if got.Status != c.want || !strings.Contains(got.Detail, c.detail) || !strings.Contains(got.Fix, c.fix) {
				t.Errorf("got %s %q (fix %q); want %s, detail with %q, fix with %q", got.Status, got.Detail, got.Fix, c.want, c.detail, c.fix)
			}
			if (got.Status == OK) != (got.Fix == "") {
				t.Errorf("status %s with fix %q", got.Status, got.Fix)
			}
			if len(f.pinAsked) != 1 || f.pinAsked[0] != c.configured {
				t.Errorf("PINPrompt was asked with %q, want [%q]", f.pinAsked, c.configured)
			}
		})
	}
}

// testNotFound is the error pinprompt.Choose gives without any pinentry.
type testNotFound struct{}

func (*testNotFound) Error() string {
	return "find pinentry: no pinentry program found (looked on PATH)"
}
func (*testNotFound) Unwrap() error { return pinentry.ErrNotFound }
