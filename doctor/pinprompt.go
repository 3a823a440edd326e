package doctor

import (
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/pinentry"
	"github.com/cardbridge/cardbridge/pinprompt"
)

// pinPromptFacts is how signing would ask for the PIN.
type pinPromptFacts struct {
	choice   pinprompt.Choice
	err      error // no prompt at all
	missing  error // the chosen program cannot be run
	terminal bool  // the chosen program needs a terminal
}

// gatherPINPrompt asks the probes how signing would ask for the PIN with
// the agent's --pinentry setting (configured, "" for none). Off Windows a
// program must have an execute bit.
func gatherPINPrompt(p Probes, configured, goos string) pinPromptFacts {
	var f pinPromptFacts
	f.choice, f.err = p.PINPrompt(configured)
	if f.err != nil || f.choice.Kind != pinprompt.KindPinentry {
		return f
	}
	if fi, err := p.Stat(f.choice.Path); err != nil {
		f.missing = err
	} else if fi.IsDir() || (osOf(goos) != "windows" && fi.Mode()&0o111 == 0) {
		f.missing = errors.New("not an executable program")
	}
	f.terminal = pinentry.NeedsTerminal(f.choice.Path)
	return f
}

// checkPINPrompt says what signing will ask for the PIN with, and fails
// when that cannot work for an agent started at login: no program, a
// configured one that is not there, or one that needs a terminal.
func checkPINPrompt(f pinPromptFacts, goos string) Check {
	c := Check{ID: "pin-prompt", Name: "PIN prompt"}
	switch {
	case f.err != nil:
		c.Status, c.Detail, c.Fix = Fail, "signing cannot ask for the PIN: "+f.err.Error(), fixNoPINPrompt(goos)
	case f.missing != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("the PIN prompt %s cannot be run: %v", f.choice.Path, f.missing)
		c.Fix = fixNoPINPrompt(goos)
		if f.choice.Configured {
			c.Detail = "the configured " + c.Detail[4:]
			c.Fix = "give --pinentry (or CARDBRIDGE_PINENTRY) the full path of an installed pinentry program, or leave it out to use the default; " + c.Fix
		}
	case f.terminal:
		c.Status = Fail
		c.Detail = fmt.Sprintf("signing would ask for the PIN with %s, which works only in a terminal: the agent started at login has none, so signing fails (\"Inappropriate ioctl for device\")", f.choice.Path)
		c.Fix = fixNoPINPrompt(goos)
	case f.choice.Kind == pinprompt.KindWindowsDialog:
		c.Status, c.Detail = OK, "signing asks for the PIN in "+f.choice.String()
	default:
		how := "found"
		if f.choice.Configured {
			how = "configured"
		}
		c.Status, c.Detail = OK, fmt.Sprintf("signing asks for the PIN with %s (%s)", f.choice.Path, how)
	}
	return c
}

func fixNoPINPrompt(goos string) string {
	switch osOf(goos) {
	case "linux":
		return "install a graphical PIN prompt: sudo apt-get install pinentry-gnome3 (GNOME and most desktops) or pinentry-qt (KDE), then sign in again; or start the agent with --pinentry PATH"
	case "darwin":
		return "install pinentry-mac: brew install pinentry-mac (or GPG Suite), then sign in again; or start the agent with --pinentry PATH"
	case "windows":
		return "the Windows credential dialog (credui.dll) is part of Windows: check the system files (in an administrator prompt: sfc /scannow); or start the agent with --pinentry PATH"
	}
	return "install a pinentry program (pinentry-qt or pinentry-gnome3), or start the agent with --pinentry PATH"
}
