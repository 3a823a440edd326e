//go:build !windows

package pinprompt

import (
	"context"
	"errors"
)

// errNoDialog: this platform's PIN prompt is a pinentry program.
var errNoDialog = errors.New("no built-in PIN dialog on this platform; a pinentry program is used")

// dialogAvailable reports why there is no built-in dialog here.
func dialogAvailable() error { return errNoDialog }

// dialog is never called here: Choose never picks it.
func dialog(context.Context, Message) ([]byte, error) { return nil, errNoDialog }
