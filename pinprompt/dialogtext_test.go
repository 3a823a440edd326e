package pinprompt

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/cardbridge/cardbridge/agent"
)

// TestDialogText: the Windows dialog's message names the origin and the
// attempts left ("1 attempt left", never "1 attempts"), warns plainly
// before the last attempt and only then, says "Wrong PIN" after a wrong
// one, and begins with the summary line; its caption is the title.
func TestDialogText(t *testing.T) {
	const (
		esr     = "https://my.esr.nhs.uk"
		spine   = "https://portal.spineservices.nhs.uk"
		warning = "WARNING: this is your last attempt. If this PIN is wrong, your smartcard will be blocked"
	)
	cases := []struct {
		name     string
		req      agent.PINRequest
		attempts string // in the message
		warn     bool   // the last-attempt warning
		wrong    string // the wrong-PIN line, if any
	}{
		{"first prompt", agent.PINRequest{Origin: esr, Retries: 3}, "3 attempts left", false, ""},
		{"a card with ten", agent.PINRequest{Origin: spine, Retries: 10}, "10 attempts left", false, ""},
		{"after a wrong PIN", agent.PINRequest{Origin: esr, Retries: 2, Wrong: true}, "2 attempts left", false, "Wrong PIN. 2 attempts left."},
		{"last attempt, asked first", agent.PINRequest{Origin: esr, Retries: 1}, "1 attempt left", true, ""},
		{"last attempt after a wrong PIN", agent.PINRequest{Origin: esr, Retries: 1, Wrong: true}, "1 attempt left", true, "Wrong PIN. 1 attempt left."},
		{"signature, last attempt after a wrong PIN", agent.PINRequest{Origin: spine, Retries: 1, Wrong: true, Signature: true}, "1 attempt left", true, "Wrong PIN. 1 attempt left."},
		{"signature", agent.PINRequest{Origin: spine, Retries: 3, Signature: true}, "3 attempts left", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Text(c.req)
			caption, msg := dialogText(m)
			if caption != m.Title || caption == "" {
				t.Errorf("caption %q, want the title %q", caption, m.Title)
			}
			if first, _, _ := strings.Cut(msg, "\n"); first != m.Summary {
				t.Errorf("first line %q, want the summary %q", first, m.Summary)
			}
			if !strings.Contains(msg, c.req.Origin+" asks") {
				t.Errorf("the message does not name %s:\n%s", c.req.Origin, msg)
			}
			if !strings.Contains(msg, c.attempts+".") {
				t.Errorf("the message does not say %q:\n%s", c.attempts, msg)
			}
			if strings.Contains(msg, "1 attempts") {
				t.Errorf("the message says \"1 attempts\":\n%s", msg)
			}
			if got := strings.Contains(msg, warning); got != c.warn {
				t.Errorf("last-attempt warning shown = %v, want %v:\n%s", got, c.warn, msg)
			}
			if got := strings.Contains(msg, "LAST ATTEMPT"); got != c.warn {
				t.Errorf("LAST ATTEMPT in the message = %v, want %v:\n%s", got, c.warn, msg)
			}
			if c.wrong == "" && strings.Contains(msg, "Wrong PIN") {
				t.Errorf("the message speaks of a wrong PIN before any:\n%s", msg)
			}
			if c.wrong != "" && strings.Count(msg, c.wrong) != 1 {
				t.Errorf("the message says %q %d times, want once:\n%s", c.wrong, strings.Count(msg, c.wrong), msg)
			}
			if got := strings.Contains(msg, "SIGN"); got != c.req.Signature {
				t.Errorf("the message speaks of signing = %v, want %v:\n%s", got, c.req.Signature, msg)
			}
		})
	}
}

func TestPINBytes(t *testing.T) {
	utf16z := func(s string) []uint16 {
		w := make([]uint16, 0, len(s)+4)
		for _, r := range s {
			w = append(w, uint16(r))
		}
		return append(w, 0, 'x', 'y') // what follows the NUL is not the PIN
	}
	cases := []struct {
		name, typed, want string
		err               error
	}{
		{"digits", "123456", "123456", nil},
		{"eight digits", "12345678", "12345678", nil},
		{"ASCII letters and signs", "Ab1-x!", "Ab1-x!", nil},
		{"empty", "", "", nil},
		{"a pound sign", "12£456", "", errPINCharacters},
		{"Arabic-Indic digits", "١٢٣٤٥٦", "", errPINCharacters},
	}
	for _, c := range cases {
		got, err := pinBytes(utf16z(c.typed))
		if !errors.Is(err, c.err) || string(got) != c.want {
			t.Errorf("%s: pinBytes(%q) = %q, %v; want %q, %v", c.name, c.typed, got, err, c.want, c.err)
		}
	}
	if !strings.Contains(errPINCharacters.Error(), "only ASCII characters") {
		t.Errorf("errPINCharacters = %q: it must say what is accepted, any ASCII", errPINCharacters)
	}
}

// TestDialogTextFits: CredUIPromptForCredentials takes a message of at most
// CREDUI_MAX_MESSAGE_LENGTH (1024) and a caption of at most
// CREDUI_MAX_CAPTION_LENGTH (128) UTF-16 units; the longest origin there can
// be (a 253-character host name and a port) fits in the longest message.
func TestDialogTextFits(t *testing.T) {
	host := strings.Repeat(strings.Repeat("a", 62)+".", 4) + "nhs.uk"
	host = host[len(host)-253:]
	origin := "https://" + host + ":65535"
	for _, sig := range []bool{false, true} {
		for _, wrong := range []bool{false, true} {
			for _, retries := range []int{1, 2, 10} {
				caption, msg := dialogText(Text(agent.PINRequest{Origin: origin, Retries: retries, Wrong: wrong, Signature: sig}))
				if n := len(utf16.Encode([]rune(msg))); n > 1024 {
					t.Errorf("signature %v, wrong %v, %d left: the message is %d UTF-16 units, more than 1024", sig, wrong, retries, n)
				}
				if n := len(utf16.Encode([]rune(caption))); n > 128 {
					t.Errorf("the caption is %d UTF-16 units, more than 128", n)
				}
			}
		}
	}
}
