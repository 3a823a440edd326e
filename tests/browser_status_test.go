//go:build linux && cgo

package tests

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/internal/vcard"
	"github.com/cardbridge/cardbridge/tests/browser"
)

// shotsEnvVar, when set, names the directory the status pages' screenshots
// are written to (docs/screenshots keeps them for the README); otherwise
// they go to a temporary directory and are only checked.
const shotsEnvVar = "CARDBRIDGE_TEST_SHOTS"

// pageView is what the tests read of a cardbridge page in Chromium.
type pageView struct {
	URL         string `json:"url"`
	Verdict     string `json:"verdict"`
	Class       string `json:"cls"`
	Border      string `json:"border"` // the verdict's computed left border colour
	Text        string `json:"text"`   // what is shown (closed <details> not included)
	Diag        string `json:"diag"`
	Readonly    bool   `json:"readonly"`
	Refresh     bool   `json:"refresh"`
	MetaRefresh bool   `json:"metaRefresh"`
	Scripts     int    `json:"scripts"`
	Details     []struct {
		Open bool   `json:"open"`
		All  string `json:"all"` // all its text, folded or not
	} `json:"details"`
}

// pageEval reads a page for pageView.
const pageEval = `(() => {
  const v = document.getElementById("verdict");
  const diag = document.getElementById("diag");
  return {
    url: location.href,
    verdict: v ? v.innerText : "",
    cls: v ? v.className : "",
    border: v ? getComputedStyle(v).borderLeftColor : "",
    text: document.body ? document.body.innerText : "",
    diag: diag ? diag.value : "",
    readonly: !!(diag && diag.readOnly),
    refresh: !!document.querySelector('a[href="/"]'),
    metaRefresh: !!document.querySelector("meta[http-equiv]"),
    scripts: document.scripts.length,
    details: [...document.querySelectorAll("details")].map((d) => ({open: d.open, all: d.textContent})),
  };
})()`

// The verdict's colours as Chromium computes them: they show that the
// page's CSP let its own <style> apply.
const (
	colourOK   = "rgb(0, 127, 59)"
	colourWarn = "rgb(255, 184, 28)"
	colourBad  = "rgb(213, 40, 27)"
)

// viewPage opens url in headless Chromium (its command adjusted by prepare,
// when set), reads it, saves a full-page screenshot as name and fails the
// test on any page error or Content Security Policy complaint.
func viewPage(t *testing.T, url, name string, prepare func(*exec.Cmd)) pageView {
	t.Helper()
	p := browser.OpenWith(t, url, browser.Options{Eval: []string{pageEval}, Screenshot: true, Prepare: prepare, Timeout: 30 * time.Second})
	defer p.Close()
	var v pageView
	if err := p.Eval(60*time.Second, &v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	png, err := p.Screenshot(30 * time.Second)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	dir := os.Getenv(shotsEnvVar)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s (%d bytes)", url, filepath.Join(dir, name), len(png))
	for _, l := range p.Lines() {
		if l.Kind == "pageerror" || l.Kind == "crash" || (l.Kind == "console" && strings.Contains(l.Text, "Content Security Policy")) {
			t.Errorf("%s: %s", url, l)
		}
	}
	if v.MetaRefresh || v.Scripts != 0 || !v.Refresh {
		t.Errorf("%s: meta refresh %v, %d scripts, Refresh/Try again link %v", url, v.MetaRefresh, v.Scripts, v.Refresh)
	}
	return v
}

// checkVerdict checks a page's one verdict line, its class and colour.
func checkVerdict(t *testing.T, v pageView, class, colour, text string) {
	t.Helper()
	if v.Class != "verdict "+class || v.Border != colour || !strings.Contains(v.Verdict, text) {
		t.Errorf("verdict %q (class %q, colour %s), want %q (%s, %s)", v.Verdict, v.Class, v.Border, text, class, colour)
	}
}

// waitReadersBody waits until the agent's /api/readers answers a body
// holding want (a 503 counts: its error body is what is matched).
func (a *agentProc) waitReadersBody(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := a.get(t, "/api/readers", "")
		if strings.Contains(string(body), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/readers never said %q: %s", want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserStatusPages: the agent's status page in Chromium with no
// card, a card, a card that is not an NHS (PIV) card, and without the PC/SC
// service: the verdict says which in plain words (coloured, so its style
// passed the CSP), the technical detail is folded away, times are local
// with the zone, a refused page is listed, and the helpdesk report can be
// copied; each state is saved as a screenshot.
func TestBrowserStatusPages(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	t.Setenv("TZ", "Europe/London") // the agent shows times in its user's zone
	a := startAgent(t)
	a.waitReaders(t, 2)
	if st, _ := a.get(t, "/api/card?token=not-for-the-page", "https://evil.example"); st != 403 {
		t.Fatalf("a foreign page's request: %d", st)
	}
	zone := time.Now().In(mustLoadLocation(t, "Europe/London")).Format("MST")

	// No card.
	v := viewPage(t, a.base+"/", "status-no-card.png", nil)
	checkVerdict(t, v, "warn", colourWarn, "No smartcard: insert your NHS smartcard")
	for _, want := range []string{"Checked ", " " + zone + " (", "https://evil.example", "not on the DomainList", "GET /api/card", "does not change by itself"} {
		if !strings.Contains(v.Text, want) {
			t.Errorf("no card: the page does not show %q:\n%s", want, v.Text)
		}
	}
	if strings.Contains(v.Text, "not-for-the-page") {
		t.Error("the page shows a refused request's query")
	}
	var rep struct {
		Checks []struct{ ID, Status, Detail string }
		OK     bool
	}
	if err := json.Unmarshal([]byte(v.Diag), &rep); err != nil || len(rep.Checks) < 5 || !v.Readonly {
		t.Errorf("the diagnostics box (read-only %v) does not hold doctor's report: %v\n%s", v.Readonly, err, v.Diag)
	}

	// A good card.
	c, cert, _ := newCard(t, testCard{uuid: "555123456789"})
	insert(t, c, 0)
	a.waitCardRead(t, "555123456789")
	v = viewPage(t, a.base+"/", "status-card.png", nil)
	checkVerdict(t, v, "ok", colourOK, "All working: smartcard 555123456789 is ready to use.")
	if !strings.Contains(v.Text, "CN=555123456789") || !strings.Contains(v.Diag, "555123456789") {
		t.Errorf("the card's holder is not shown:\n%s\n%s", v.Text, v.Diag)
	}
	certB64 := base64.StdEncoding.EncodeToString(cert.Raw)
	if strings.Contains(v.Text, certB64[:40]) || strings.Contains(v.Diag, certB64[:40]) {
		t.Error("the page shows the certificate")
	}
	remove(t, c, 0)

	// A card without the PIV application.
	bad, _, _ := newCard(t, testCard{uuid: "555000000111", fault: vcard.FaultNoPIV})
	insert(t, bad, 0)
	a.waitReadersBody(t, "UNSUPPORTED_CARD")
	v = viewPage(t, a.base+"/", "status-not-piv.png", nil)
	checkVerdict(t, v, "bad", colourBad, "Not working: the card in the reader is not an NHS smartcard.")
	if len(v.Details) != 1 || v.Details[0].Open || !strings.Contains(v.Details[0].All, "6A82") || !strings.Contains(v.Details[0].All, "UNSUPPORTED_CARD") {
		t.Errorf("the technical detail is not folded below: %+v", v.Details)
	}
	if strings.Contains(v.Text, "6A82") || !strings.Contains(v.Text, "Technical details") || !strings.Contains(v.Text, "not a bank card") {
		t.Errorf("what the page shows of a card without PIV:\n%s", v.Text)
	}
	remove(t, bad, 0)

	// No PC/SC service (needPCSCD starts it again when the test ends).
	if err := bed.Stop(); err != nil {
		t.Fatal(err)
	}
	a.waitReadersBody(t, "PCSC_UNAVAILABLE")
	v = viewPage(t, a.base+"/", "status-no-pcscd.png", nil)
	checkVerdict(t, v, "bad", colourBad, "Not working: the smart card service of this computer (PC/SC) is not running.")
	if !strings.Contains(v.Text, "systemctl start pcscd") || !strings.Contains(v.Diag, `"pcsc"`) {
		t.Errorf("no PC/SC service:\n%s", v.Text)
	}
}

func mustLoadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no time zone data for %s: %v", name, err)
	}
	return loc
}

// asUser makes the browser run as u, with a home and temporary directory
// of u's own.
func asUser(t *testing.T, u *user.User) func(*exec.Cmd) {
	t.Helper()
	home := t.TempDir()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	// Up the path to it, so that u can reach it.
	for d := filepath.Dir(home); d != "/" && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	return func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Pdeathsig: syscall.SIGKILL}
		cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	}
}

// TestBrowserPortServicePage: http://localhost:<well-known port>/ takes the
// calling user to their own agent's status page; another OS user (mallory,
// without an agent) is told that cardbridge is not running for them and
// what to do, and sees nothing of the first user's agent; mallory's visit
// to that agent is refused and listed on its owner's status page.
func TestBrowserPortServicePage(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	dir := testutil.SharedTempDir(t)
	logDir := sharedLogDir(t, dir)
	ps := startPortService(t, filepath.Join(dir, "state"), testutil.FreePort(t), 56700, 56709)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	agent := &testUser{u: me}
	startRootAgent(t, ps, agent, logDir)
	port := getPortNumber(t, ps, me, true)
	home := fmt.Sprintf("http://localhost:%d/", ps.port)

	v := viewPage(t, home, "portservice-own-user.png", nil)
	if v.URL != fmt.Sprintf("http://localhost:%d/", port) || !strings.Contains(v.Text, "registered") || v.Verdict == "" {
		t.Errorf("the port service's page took %s to %s:\n%s", me.Username, v.URL, v.Text)
	}

	m := mallory(t)
	v = viewPage(t, home, "portservice-other-user.png", asUser(t, m))
	if v.URL != home {
		t.Errorf("mallory was sent to %s", v.URL)
	}
	checkVerdict(t, v, "bad", colourBad, "cardbridge is not running for you (uid:"+m.Uid+" ("+m.Username+")).")
	for _, want := range []string{"Log off", "cardbridge agent", "cardbridge doctor", "helpdesk"} {
		if !strings.Contains(v.Text, want) {
			t.Errorf("mallory's page does not say %q:\n%s", want, v.Text)
		}
	}
	for _, never := range []string{strconv.Itoa(port), "uid:" + me.Uid + " ", "(" + me.Username + ")"} {
		if strings.Contains(v.Text, never) {
			t.Errorf("mallory's page shows %q:\n%s", never, v.Text)
		}
	}

	// Mallory goes to the agent's port herself: refused, and listed.
	direct := browser.OpenWith(t, fmt.Sprintf("http://localhost:%d/", port), browser.Options{Eval: []string{pageEval}, Prepare: asUser(t, m)})
	var refused pageView
	if err := direct.Eval(60*time.Second, &refused); err != nil {
		t.Fatal(err)
	}
	direct.Close()
	if !strings.Contains(refused.Text, "WRONG_USER") || strings.Contains(refused.Text, "DomainList") {
		t.Errorf("mallory at the agent's port saw:\n%s", refused.Text)
	}
	agentBase := fmt.Sprintf("http://127.0.0.1:%d", port)
	out, err := exec.Command("curl", "-sS", "--max-time", "20", agentBase+"/").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "another user of this computer (uid:"+m.Uid+")") {
		t.Errorf("the agent's status page does not list mallory's refused visit:\n%s", out)
	}
}
