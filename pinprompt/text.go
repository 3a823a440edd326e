package pinprompt

import (
	"fmt"

	"github.com/cardbridge/cardbridge/agent"
)

// Message is what a PIN prompt shows.
type Message struct {
	Title string
	// Description names the origin, the attempts left and, before the last
	// one, warns that a wrong PIN blocks the card.
	Description string
	// Error is set after a wrong PIN.
	Error string
	// Summary is one short line with what matters most, first: the
	// last-attempt warning, else a wrong PIN, else who asks and the
	// attempts left. A dialog that shows one line of its message (Wine's
	// credential dialog) shows this one.
	Summary string
}

// Text words req for the user. A request for a digital signature says so,
// in the title, the description and the summary, so that nobody signs
// thinking they log in.
func Text(req agent.PINRequest) Message {
	m := Message{Title: "cardbridge: smartcard PIN"}
	m.Description = fmt.Sprintf("%s asks to use your smartcard.\n\nEnter your smartcard PIN to continue. %s.", req.Origin, attemptsLeft(req.Retries))
	if req.Signature {
		m.Title = "cardbridge: sign with your smartcard"
		m.Description = fmt.Sprintf("%s asks you to SIGN with your smartcard.\n\nThis is a digital signature, not a login: enter your smartcard PIN only if you mean to sign what this site showed you. %s.", req.Origin, attemptsLeft(req.Retries))
	}
	if req.LastAttempt() {
		m.Description += "\n\nWARNING: this is your last attempt. If this PIN is wrong, your smartcard will be blocked and you will need your Registration Authority or IT service desk to unblock it."
	}
	if req.Wrong {
		m.Error = fmt.Sprintf("Wrong PIN. %s.", attemptsLeft(req.Retries))
	}
	switch {
	case req.LastAttempt():
		m.Summary = "LAST ATTEMPT: a wrong PIN will block your smartcard."
	case req.Wrong:
		m.Summary = m.Error
	case req.Signature:
		m.Summary = fmt.Sprintf("Smartcard PIN to SIGN for %s (%s)", req.Origin, attemptsLeft(req.Retries))
	default:
		m.Summary = fmt.Sprintf("Smartcard PIN for %s (%s)", req.Origin, attemptsLeft(req.Retries))
	}
	return m
}

// attemptsLeft is "1 attempt left" or "N attempts left".
func attemptsLeft(n int) string {
	if n == 1 {
		return "1 attempt left"
	}
	return fmt.Sprintf("%d attempts left", n)
}
