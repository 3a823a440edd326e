package pinprompt

import (
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/agent"
)

func TestText(t *testing.T) {
	const warning = "WARNING: this is your last attempt. If this PIN is wrong, your smartcard will be blocked"
	cases := []struct {
		name      string
		req       agent.PINRequest
		attempts  string // in the description
		warn      bool
		wantError string
	}{
		{"first prompt", agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 3}, "3 attempts left.", false, ""},
		{"after one wrong", agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 2, Wrong: true}, "2 attempts left.", false, "Wrong PIN. 2 attempts left."},
		{"last attempt, asked first", agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 1}, "1 attempt left.", true, ""},
		{"last attempt after a wrong one", agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 1, Wrong: true}, "1 attempt left.", true, "Wrong PIN. 1 attempt left."},
		{"a card with ten", agent.PINRequest{Origin: "https://portal.spineservices.nhs.uk", Retries: 10}, "10 attempts left.", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Text(c.req)
			if m.Title == "" {
				t.Error("no title")
			}
			if !strings.HasPrefix(m.Description, c.req.Origin+" asks to use your smartcard.") {
				t.Errorf("description does not begin with the origin: %q", m.Description)
			}
			if !strings.Contains(m.Description, c.attempts) {
				t.Errorf("description %q does not say %q", m.Description, c.attempts)
			}
			if strings.Contains(m.Description, "1 attempts") {
				t.Errorf("description %q says \"1 attempts\"", m.Description)
			}
			if got := strings.Contains(m.Description, warning); got != c.warn {
				t.Errorf("last-attempt warning shown = %v, want %v: %q", got, c.warn, m.Description)
			}
			if m.Error != c.wantError {
				t.Errorf("Error = %q, want %q", m.Error, c.wantError)
			}
			// The summary line puts first what must not be missed.
			switch {
			case c.warn:
				if !strings.HasPrefix(m.Summary, "LAST ATTEMPT: a wrong PIN will block your smartcard") {
					t.Errorf("Summary = %q, want the last-attempt warning", m.Summary)
				}
			case c.req.Wrong:
				if m.Summary != c.wantError {
					t.Errorf("Summary = %q, want %q", m.Summary, c.wantError)
				}
			default:
				if !strings.Contains(m.Summary, c.req.Origin) || !strings.Contains(m.Summary, c.attempts[:len(c.attempts)-1]) {
					t.Errorf("Summary = %q, want the origin and %q", m.Summary, c.attempts)
				}
			}
			if strings.Contains(m.Summary, "\n") {
				t.Errorf("Summary %q is more than one line", m.Summary)
			}
		})
	}
}

// TestTextSignature: a request for a digital signature says, wherever a
// prompt shows it (title, description, summary), that the page asks for a
// signature and not a login, and names the origin; the last-attempt and
// wrong-PIN wording stays.
func TestTextSignature(t *testing.T) {
	login := Text(agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 3})
	m := Text(agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 3, Signature: true})
	if !strings.HasPrefix(m.Description, "https://my.esr.nhs.uk asks you to SIGN with your smartcard.") ||
		!strings.Contains(m.Description, "This is a digital signature, not a login") || !strings.Contains(m.Description, "3 attempts left.") {
		t.Errorf("description %q", m.Description)
	}
	if !strings.Contains(strings.ToLower(m.Title), "sign") || m.Title == login.Title {
		t.Errorf("title %q does not say it is a signature", m.Title)
	}
	if m.Summary != "Smartcard PIN to SIGN for https://my.esr.nhs.uk (3 attempts left)" {
		t.Errorf("summary %q", m.Summary)
	}
	if strings.Contains(login.Description, "SIGN") || strings.Contains(login.Summary, "SIGN") {
		t.Errorf("a login prompt speaks of signing: %q", login.Description)
	}
	last := Text(agent.PINRequest{Origin: "https://my.esr.nhs.uk", Retries: 1, Wrong: true, Signature: true})
	if !strings.Contains(last.Description, "WARNING: this is your last attempt") || !strings.HasPrefix(last.Summary, "LAST ATTEMPT") ||
		last.Error != "Wrong PIN. 1 attempt left." || !strings.Contains(last.Description, "asks you to SIGN") {
		t.Errorf("last attempt of a signature: %+v", last)
	}
}
