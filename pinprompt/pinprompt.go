// Package pinprompt asks the user for the smartcard PIN when a page asks to
// sign: it chooses how (a pinentry program, or the operating system's own
// dialog), and words what the user is told, the same way for each.
//
// Without a configured program the agent uses, on Windows, the Windows
// credential dialog (credui.dll), which every Windows desktop and terminal
// server has; on Linux and macOS a GnuPG pinentry program found by
// pinentry.Find. A configured program (--pinentry) always wins.
//
// What the user is told (Text): which origin asks, whether it asks for a
// digital signature rather than a login, how many PIN attempts the card
// has left ("1 attempt left" when one is), a plain warning when a wrong PIN
// would block the card, and "Wrong PIN" after one was wrong.
package pinprompt

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/pinentry"
	"github.com/rs/zerolog"
)

// Kind says how the PIN is asked for.
type Kind string

const (
	// KindPinentry is a GnuPG pinentry program.
	KindPinentry Kind = "pinentry"
	// KindWindowsDialog is the Windows credential dialog (credui.dll).
	KindWindowsDialog Kind = "windows-dialog"
)

// Choice is how signing asks for the PIN on this machine.
type Choice struct {
	Kind Kind
	// Path is the pinentry program (KindPinentry only).
	Path string
	// Configured says the program was given (--pinentry), not found.
	Configured bool
}

// String names the choice for a person: the program's path or the dialog.
func (c Choice) String() string {
	if c.Kind == KindWindowsDialog {
		return "the Windows credential dialog (credui.dll)"
	}
	return c.Path
}

// Choose says how signing will ask for the PIN: the pinentry program at
// path when path is set, else this platform's own dialog where it has one,
// else the pinentry program pinentry.Find picks. Its error wraps
// pinentry.ErrNotFound when there is none.
func Choose(path string) (Choice, error) {
	if path != "" {
		return Choice{Kind: KindPinentry, Path: path, Configured: true}, nil
	}
	if dialogAvailable() == nil {
		return Choice{Kind: KindWindowsDialog}, nil
	}
	p, err := pinentry.Find()
	if err != nil {
		return Choice{}, err
	}
	return Choice{Kind: KindPinentry, Path: p.Path}, nil
}

// New returns the agent's PIN prompt: the pinentry program at path, or
// what Choose picks when path is empty, chosen again at each signing so
// that a program installed while the agent runs is found.
func New(path string, log zerolog.Logger) agent.PINPrompt {
	return func(ctx context.Context, req agent.PINRequest) ([]byte, error) {
		choice, err := Choose(path)
		if err != nil {
			return nil, fmt.Errorf("no PIN entry program: %w (install pinentry, or give --pinentry)", err)
		}
		pin, err := ask(ctx, choice, Text(req))
		switch {
		case errors.Is(err, cardinfo.ErrPINCancelled):
		case err != nil:
			log.Error().Err(err).Str("prompt", choice.String()).Msg("PIN entry failed")
		}
		return pin, err
	}
}

// ask shows msg with the chosen prompt.
func ask(ctx context.Context, c Choice, msg Message) ([]byte, error) {
	if c.Kind == KindWindowsDialog {
		return dialog(ctx, msg)
	}
	prog := pinentry.Program{Path: c.Path}
	pin, err := prog.GetPIN(ctx, pinentry.Request{Title: msg.Title, Description: msg.Description, Prompt: "PIN:", Error: msg.Error})
	if errors.Is(err, pinentry.ErrCancelled) {
		return nil, fmt.Errorf("%w: %v", cardinfo.ErrPINCancelled, err)
	}
	return pin, err
}
