package winlane

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/webeid"
)

// dialogTitle is the caption of the agent's PIN dialog.
const dialogTitle = "cardbridge: smartcard PIN"

const testNonce = "12345678123456781234567812345678912356789123"

// xdotool runs xdotool in the root, on the lane's display.
func xdotool(args ...string) (string, error) {
	out, err := inRoot("xdotool", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// waitDialog waits for the PIN dialog to be shown and returns its window.
func waitDialog(t *testing.T) string {
	t.Helper()
	var win string
	testutil.WaitFor(t, 90*time.Second, 50*time.Millisecond, "the PIN dialog to appear", func() bool {
		out, err := xdotool("search", "--onlyvisible", "--name", "^"+dialogTitle+"$")
		if err != nil || out == "" {
			return false
		}
		win = strings.Fields(out)[0]
		return true
	})
	// Let it draw before it is photographed or typed into.
	time.Sleep(time.Second)
	return win
}

// answerDialog types into the PIN dialog: keys, then Return or Escape.
func answerDialog(t *testing.T, win, pin, key string) {
	t.Helper()
	if _, err := xdotool("windowfocus", "--sync", win); err != nil {
		t.Logf("xdotool windowfocus: %v", err)
	}
	if pin != "" {
		if out, err := xdotool("type", "--delay", "50", pin); err != nil {
			t.Fatalf("xdotool type: %v %s", err, out)
		}
	}
	if out, err := xdotool("key", key); err != nil {
		t.Fatalf("xdotool key %s: %v %s", key, err, out)
	}
	testutil.WaitFor(t, 30*time.Second, 50*time.Millisecond, "the PIN dialog to close", func() bool {
		out, _ := xdotool("search", "--onlyvisible", "--name", "^"+dialogTitle+"$")
		return !strings.Contains(" "+out+" ", " "+win+" ") && !strings.HasPrefix(out, win)
	})
}

// The screenshots of the PIN dialog, named as in docs/screenshots, which
// the README shows: CARDBRIDGE_WINE_SHOTS=docs/screenshots renews them.
const (
	shotDialog            = "windows-pin-dialog.png"
	shotDialogLastAttempt = "windows-pin-dialog-last-attempt.png"
)

// screenshot saves the virtual display as name (PNG) in the lane's work
// directory, and in $CARDBRIDGE_WINE_SHOTS when set.
func screenshot(t *testing.T, name string) {
	t.Helper()
	png := filepath.Join(lane.work, name)
	cmd := fmt.Sprintf("xwdtopnm <%s/Xvfb_screen0 2>/dev/null | pnmtopng >%s", lane.work, png)
	if out, err := inRoot("sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Errorf("screenshot %s: %v %s", name, err, out)
		return
	}
	if dir := os.Getenv(shotsEnv); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
		if err := exec.Command("cp", png, filepath.Join(dir, name)).Run(); err != nil {
			t.Errorf("keep screenshot %s: %v", name, err)
		}
	}
	t.Logf("screenshot: %s", png)
}

// authenticate posts the Web eID challenge in the background; the answer
// arrives on the channel.
func (w *windowsAgent) authenticate(t *testing.T) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		r, err := w.tryProbe("-method", "POST", "-body", `{"challenge":"`+testNonce+`"}`, "/api/authenticate")
		if err != nil {
			r.Body = err.Error()
		}
		ch <- answer{r.Status, []byte(r.Body)}
	}()
	return ch
}

type answer struct {
	status int
	body   []byte
}

func waitAnswer(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(2 * time.Minute):
		t.Fatal("POST /api/authenticate did not answer within 2 minutes")
		return answer{}
	}
}

// TestSignWithTheWindowsDialog: signing through the Windows build asks for
// the PIN in the Windows credential dialog (the default on Windows, nothing
// installed): typed in, the token verifies; cancelled, the page gets
// PIN_CANCELLED; a wrong PIN asks again, and each is logged with the
// attempts left; a wrong PIN at the last attempt blocks the card, which the
// page is told (PIN_BLOCKED) and the log says (attempts_left 0), and a
// blocked card is not asked for its PIN; the PIN is in no log. The card is
// this test's own, and is removed when it ends.
func TestSignWithTheWindowsDialog(t *testing.T) {
	needLane(t)
	c, cert, _ := newCard(t, "555000000703", "rsa2048")
	insert(t, c, 0)
	w := startRegistered(t)
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the card to be read", func() bool { return w.cardUUID(t) == "555000000703" })

	// The right PIN.
	ch := w.authenticate(t)
	win := waitDialog(t)
	screenshot(t, shotDialog)
	answerDialog(t, win, lanePIN, "Return")
	a := waitAnswer(t, ch)
	if a.status != 200 {
		t.Fatalf("authenticate: %d %s", a.status, a.body)
	}
	var tok webeid.Token
	if err := json.Unmarshal(a.body, &tok); err != nil {
		t.Fatal(err)
	}
	got, err := webeid.Verify(&tok, origin, testNonce, time.Now())
	if err != nil || !got.Equal(cert) {
		t.Fatalf("the token does not verify: %v (%s)", err, a.body)
	}

	// Cancel.
	ch = w.authenticate(t)
	answerDialog(t, waitDialog(t), "", "Escape")
	if a := waitAnswer(t, ch); a.status != 403 || !strings.Contains(string(a.body), `"PIN_CANCELLED"`) {
		t.Fatalf("cancelled dialog: %d %s, want 403 PIN_CANCELLED", a.status, a.body)
	}

	// Two wrong PINs: asked again each time, the third time with the
	// last-attempt warning; then cancelled, leaving the card one attempt.
	ch = w.authenticate(t)
	answerDialog(t, waitDialog(t), wrongPIN, "Return")
	answerDialog(t, waitDialog(t), wrongPIN, "Return")
	win = waitDialog(t)
	screenshot(t, shotDialogLastAttempt)
	answerDialog(t, win, "", "Escape")
	if a := waitAnswer(t, ch); a.status != 403 || !strings.Contains(string(a.body), `"WRONG_PIN"`) {
		t.Fatalf("gave up after wrong PINs: %d %s, want 403 WRONG_PIN", a.status, a.body)
	}

	// The last attempt, asked anew, and a wrong PIN: the card blocks.
	ch = w.authenticate(t)
	answerDialog(t, waitDialog(t), wrongPIN, "Return")
	if a := waitAnswer(t, ch); a.status != 403 || !strings.Contains(string(a.body), `"PIN_BLOCKED"`) {
		t.Fatalf("a wrong PIN at the last attempt: %d %s, want 403 PIN_BLOCKED", a.status, a.body)
	}
	// Blocked, the card is not asked for its PIN: no dialog, the answer at
	// once.
	ch = w.authenticate(t)
	select {
	case a := <-ch:
		if a.status != 403 || !strings.Contains(string(a.body), `"PIN_BLOCKED"`) {
			t.Errorf("signing with a blocked card: %d %s, want 403 PIN_BLOCKED", a.status, a.body)
		}
	case <-time.After(30 * time.Second):
		out, _ := xdotool("search", "--onlyvisible", "--name", "^"+dialogTitle+"$")
		t.Fatalf("signing with a blocked card did not answer within 30 seconds (PIN dialog windows: %q)", out)
	}

	log, _ := os.ReadFile(filepath.Join(w.dir, "agent.log"))
	for _, want := range []string{`"attempts_left":2`, `"attempts_left":1`, `"attempts_left":0`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the agent log has no wrong-PIN line with %s", want)
		}
	}
	if !strings.Contains(string(log), "the card is now blocked") {
		t.Error("the agent log does not say the card is now blocked")
	}
	if strings.Contains(string(log), lanePIN) || strings.Contains(string(log), wrongPIN) {
		t.Error("a PIN appears in the agent log")
	}
}

// wrongPIN is not the cards' PIN, and as distinctive as lanePIN.
const wrongPIN = "862951"
