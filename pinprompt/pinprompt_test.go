package pinprompt

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pinentry"
)

// fakePinentry returns $CARDBRIDGE_FAKEPINENTRY, or builds tools/fakepinentry
// into dir, and writes its settings next to it.
func fakePinentry(t *testing.T, dir string, settings ...string) string {
	t.Helper()
	path := filepath.Join(dir, "fakepinentry")
	if runtime.GOOS == "windows" {
		path += ".exe"
	}
	if p := os.Getenv("CARDBRIDGE_FAKEPINENTRY"); p != "" {
		data, err := os.ReadFile(p)
		if err == nil {
			err = os.WriteFile(path, data, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	} else {
		cmd := exec.Command("go", "build", "-o", path, "../tools/fakepinentry")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./tools/fakepinentry: %v\n%s", err, out)
		}
	}
	conf := strings.Join(settings, "\n") + "\n"
	if err := os.WriteFile(path+".conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNewWithPinentry: a configured pinentry program is what New uses, it
// is shown the words of Text, and cancel there is PIN_CANCELLED here.
func TestNewWithPinentry(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "fake.log")
	prog := fakePinentry(t, dir, "FAKEPINENTRY_PIN=246810", "FAKEPINENTRY_LOG="+log)

	c, err := Choose(prog)
	if err != nil || c.Kind != KindPinentry || c.Path != prog || !c.Configured {
		t.Fatalf("Choose(%q) = %+v, %v", prog, c, err)
	}
	prompt := New(prog, zerolog.Nop())
	req := agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 1, Wrong: true}
	pin, err := prompt(context.Background(), req)
	if err != nil || string(pin) != "246810" {
		t.Fatalf("prompt = %q, %v; want the fake's PIN", pin, err)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	m := Text(req)
	for _, want := range []string{
		"SETTITLE " + strconv.Quote(m.Title),
		"SETDESC " + strconv.Quote(m.Description),
		"SETERROR " + strconv.Quote(m.Error),
	} {
		if !strings.Contains(string(data), want+"\n") {
			t.Errorf("the pinentry was not sent %s; its log:\n%s", want, data)
		}
	}

	cancel := fakePinentry(t, t.TempDir(), "FAKEPINENTRY_MODE=cancel")
	if _, err := New(cancel, zerolog.Nop())(context.Background(), req); !errors.Is(err, cardinfo.ErrPINCancelled) {
		t.Errorf("cancel in the pinentry gave %v, want cardinfo.ErrPINCancelled", err)
	}
}

// TestChooseWithoutAnyPinentry: with no pinentry on PATH, signing has no
// prompt on Linux and macOS, and New says how to get one; Windows has its
// dialog.
func TestChooseWithoutAnyPinentry(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	c, err := Choose("")
	if dialogAvailable() == nil {
		if err != nil || c.Kind != KindWindowsDialog {
			t.Fatalf("Choose = %+v, %v; want the Windows dialog", c, err)
		}
		return
	}
	if !errors.Is(err, pinentry.ErrNotFound) {
		t.Fatalf("Choose = %+v, %v; want pinentry.ErrNotFound", c, err)
	}
	_, err = New("", zerolog.Nop())(context.Background(), agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 3})
	if !errors.Is(err, pinentry.ErrNotFound) || !strings.Contains(err.Error(), "--pinentry") {
		t.Errorf("New without a pinentry = %v; want pinentry.ErrNotFound naming --pinentry", err)
	}
}
