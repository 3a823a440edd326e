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
