//go:build linux && cgo

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/tests/testbed"
)

// doctorBed is the real thing doctor looks at: the private pcscd, a port
// service on a test port with a trusted URL, an agent registered with it,
// and a virtual card.
type doctorBed struct {
	ps             *portService
	agent          *testUser
	env            []string // XDG_STATE_HOME, so that doctor finds the agent's log
	standalonePort int
	top            *testing.T // outlives the subtests: agents started in one keep running
}

// startAgent runs the agent, registered with the port service, without --log:
// its log goes where doctor looks.
func (b *doctorBed) startAgent(t *testing.T, extra ...string) {
	t.Helper()
	b.agent = &testUser{}
	b.agent.agent = exec.Command(filepath.Join(binDir, "cardbridge"), append([]string{"agent", "--portservice", b.ps.socket, "--log-level", "debug"}, extra...)...)
	b.agent.agent.Env = append(os.Environ(), b.env...)
	b.agent.agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.agent.agent.Start(); err != nil {
		t.Fatal(err)
	}
	b.agent.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(b.agent.agent, b.agent.done)
	tu := b.agent
	b.top.Cleanup(func() { stopUserAgent(tu) })
}

// agentLog is what the agent has logged.
func (b *doctorBed) agentLog() string {
	for _, e := range b.env {
		if d, ok := strings.CutPrefix(e, "XDG_STATE_HOME="); ok {
			out, _ := os.ReadFile(filepath.Join(d, "cardbridge", "agent.log"))
			return string(out)
		}
	}
	return ""
}

// run runs `cardbridge doctor` against the bed with more arguments and
// returns what it printed, the exit code and how long it took.
func (b *doctorBed) run(t *testing.T, args ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"doctor", "--ports", strconv.Itoa(b.ps.port), "--port", strconv.Itoa(b.standalonePort)}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "cardbridge"), args...)
	cmd.Env = append(os.Environ(), b.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("cardbridge doctor: %v", err)
		}
		code = ee.ExitCode()
	}
	if stderr.Len() > 0 {
		t.Errorf("cardbridge doctor wrote to stderr: %s", stderr.String())
	}
	return stdout.String(), code, took
}

// doctor runs `cardbridge doctor --json` and returns the report, the exit
// code and how long it took.
func (b *doctorBed) doctor(t *testing.T, args ...string) (doctor.Report, int, time.Duration) {
	t.Helper()
	out, code, took := b.run(t, append([]string{"--json"}, args...)...)
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out, err)
	}
	return rep, code, took
}

// until runs doctor until cond holds (at most 30 s) and returns that report.
func (b *doctorBed) until(t *testing.T, what string, cond func(doctor.Report, int) bool) (doctor.Report, int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, code, _ := b.doctor(t)
		if cond(rep, code) {
			return rep, code
		}
		if time.Now().After(deadline) {
			t.Fatalf("doctor never showed %s; last (exit %d):\n%s\nport service log:\n%s\nagent log:\n%s", what, code, reportText(rep), b.ps.log(), b.agentLog())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// good waits until doctor finds nothing broken.
func (b *doctorBed) good(t *testing.T) doctor.Report {
	t.Helper()
	rep, _ := b.until(t, "a good setup", func(r doctor.Report, code int) bool {
		return code == 0 && statusOf(r, "trusted-url") == doctor.OK && statusOf(r, "agent-port") == doctor.OK
	})
	return rep
}

func statusOf(r doctor.Report, id string) doctor.Status {
	for _, c := range r.Checks {
		if c.ID == id {
			return c.Status
		}
	}
	return ""
}

func reportText(r doctor.Report) string {
	var b strings.Builder
	_ = doctor.WriteText(&b, r)
	return b.String()
}

// expect checks one line of a report: its status and what its detail and
// fix say.
func expect(t *testing.T, r doctor.Report, id string, status doctor.Status, detail, fix string) {
	t.Helper()
	for _, c := range r.Checks {
		if c.ID != id {
			continue
		}
		if c.Status != status || !strings.Contains(c.Detail, detail) || !strings.Contains(c.Fix, fix) {
			t.Errorf("%s = %s %q\n  fix %q\nwant %s with %q, fix with %q\nwhole report:\n%s", id, c.Status, c.Detail, c.Fix, status, detail, fix, reportText(r))
		}
		return
	}
	t.Errorf("no %s line in:\n%s", id, reportText(r))
}

func expectExit(t *testing.T, code int, want int, r doctor.Report) {
	t.Helper()
	if code != want || r.OK != (want == 0) {
		t.Errorf("exit %d (ok %v), want %d:\n%s", code, r.OK, want, reportText(r))
	}
}

// onSystemd is the fix text doctor gives on this host: the first where
// systemd runs, the second (no systemctl) where it does not.
func onSystemd(withSystemd, without string) string {
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return withSystemd
	}
	return without
}

// trustedServer publishes a DomainList as the trusted URL does.
func trustedServer(t *testing.T, listVersion string, listStatus int) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/versioninfo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"latestVersion":"0.0.1","domainListVersion":%q}`, listVersion)
	})
	mux.HandleFunc("/api/domainlist", func(w http.ResponseWriter, r *http.Request) {
		if listStatus != http.StatusOK {
			http.Error(w, "list unavailable", listStatus)
			return
		}
		fmt.Fprintf(w, "# version: %s\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\nhttps://doctor.example\n", listVersion)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// TestDoctor sets up the real thing, checks that doctor finds it good, then
// breaks one thing at a time and checks that doctor names it, says how to fix
// it and exits 1; each break is repaired before the next.
func TestDoctor(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	state := filepath.Join(dir, "state")
	trusted := trustedServer(t, "test-2", http.StatusOK)
	b := &doctorBed{
		ps: &portService{dir: state, socket: filepath.Join(dir, "portservice.sock"), port: testutil.FreePort(t), lo: 56500, hi: 56599, extra: []string{"--trusted-url", trusted.URL}},
		// The agent and doctor both take the PIN prompt from
		// CARDBRIDGE_PINENTRY: the scripted one, as a desktop's would be.
		env:            []string{"XDG_STATE_HOME=" + filepath.Join(dir, "xdg"), "CARDBRIDGE_LOG=", "CARDBRIDGE_PINENTRY=" + filepath.Join(binDir, "fakepinentry")},
		standalonePort: testutil.FreePort(t),
		top:            t,
	}
	b.ps.start(t)
	t.Cleanup(func() { b.ps.stop(t) })
	b.startAgent(t)
	card, _, _ := newCard(t, testCard{uuid: "555000000777"})
	insert(t, card, 0)

	t.Run("all good", func(t *testing.T) {
		rep := b.good(t)
		for _, id := range []string{"pcsc", "readers", "card", "portservice", "agent", "agent-port", "domainlist", "trusted-url", "agent-log", "portservice-log"} {
			if s := statusOf(rep, id); s != doctor.OK {
				t.Errorf("%s is %q, want ok", id, s)
			}
		}
		expect(t, rep, "card", doctor.OK, "UUID 555000000777 in "+reader0+" (CN=555000000777, OU=People, O=nhs, valid until", "")
		expect(t, rep, "readers", doctor.OK, "2: "+reader0+", "+reader1, "")
		expect(t, rep, "domainlist", doctor.OK, "version test-2, 3 entries", "")
		expect(t, rep, "domainlist", doctor.OK, "confirmed current by the trusted URL", "")
		expect(t, rep, "portservice-log", doctor.OK, filepath.Join(state, "portservice.log"), "")
		expect(t, rep, "agent-log", doctor.OK, filepath.Join(dir, "xdg", "cardbridge", "agent.log"), "")
		out, err := exec.Command("curl", "-sf", fmt.Sprintf("http://127.0.0.1:%d/PRS/GetPortNumber", b.ps.port)).Output()
		var gpn struct {
			PortData struct{ PortNumber int } `json:"portData"`
		}
		if err != nil || json.Unmarshal(out, &gpn) != nil || gpn.PortData.PortNumber == 0 {
			t.Fatalf("GetPortNumber: %s (%v)", out, err)
		}
		expect(t, rep, "agent-port", doctor.OK, fmt.Sprintf("agree: %d", gpn.PortData.PortNumber), "")
		// Browser hints warn at most; this host's Chromium has no policies.
		for _, c := range rep.Checks {
			if strings.HasPrefix(c.ID, "browser") && c.Status == doctor.Fail {
				t.Errorf("a browser hint failed: %+v", c)
			}
		}
		// The text a person reads, as it was.
		text, code, took := b.run(t)
		if code != 0 || !strings.Contains(text, "  ok    card ") || !strings.Contains(text, "\nall good") && !strings.Contains(text, "\nno problems") {
			t.Errorf("doctor (exit %d) printed:\n%s", code, text)
		}
		t.Logf("cardbridge doctor took %v and printed:\n%s", took, text)
	})

	t.Run("card removed", func(t *testing.T) {
		remove(t, card, 0)
		rep, code, _ := b.doctor(t)
		expect(t, rep, "card", doctor.Fail, "no card in any reader", "insert your smartcard")
		expectExit(t, code, 1, rep)
		insert(t, card, 0)
		b.good(t)
	})

	t.Run("agent hangs", func(t *testing.T) {
		pid := b.agent.agent.Process.Pid
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
		rep, code, took := b.doctor(t)
		expect(t, rep, "agent", doctor.Fail, "but the agent there does not answer within 2s", onSystemd("systemctl --user restart cardbridge-agent", "end the agent (pkill -x cardbridge)"))
		expect(t, rep, "agent-port", doctor.Skip, "no agent answers", "")
		expectExit(t, code, 1, rep)
		if took > 8*time.Second {
			t.Errorf("doctor took %v with a hung agent", took)
		}
		_ = syscall.Kill(pid, syscall.SIGCONT)
		b.good(t)
	})

	t.Run("agent not running", func(t *testing.T) {
		stopUserAgent(b.agent)
		rep, code := b.until(t, "the agent gone", func(r doctor.Report, _ int) bool { return statusOf(r, "agent") == doctor.Fail })
		expect(t, rep, "agent", doctor.Fail, "not running for this user: the port service has no agent for you (PR30007)", onSystemd("systemctl --user start cardbridge-agent", "run `cardbridge agent` in a terminal"))
		expectExit(t, code, 1, rep)
		b.startAgent(t)
		b.good(t)
	})

	t.Run("agent standalone instead of registered", func(t *testing.T) {
		stopUserAgent(b.agent)
		b.startAgent(t, "--listen", fmt.Sprintf("127.0.0.1:%d", b.standalonePort))
		rep, code := b.until(t, "the standalone agent", func(r doctor.Report, _ int) bool { return statusOf(r, "agent") == doctor.OK })
		expect(t, rep, "agent", doctor.OK, fmt.Sprintf("on port %d, standalone", b.standalonePort), "")
		expect(t, rep, "agent-port", doctor.Fail, fmt.Sprintf("the port service has no agent for you (PR30007), but one runs standalone on port %d", b.standalonePort), "without --listen")
		expectExit(t, code, 1, rep)
		stopUserAgent(b.agent)
		b.startAgent(t)
		b.good(t)
	})

	t.Run("port service not running", func(t *testing.T) {
		b.ps.stop(t)
		rep, code, _ := b.doctor(t)
		expect(t, rep, "portservice", doctor.Fail, fmt.Sprintf("not running: nothing answers on port %d", b.ps.port), onSystemd("sudo systemctl start cardbridge-portservice", "start the port service from your init system"))
		expect(t, rep, "trusted-url", doctor.Skip, "port service is not reachable", "")
		expectExit(t, code, 1, rep)
		// The agent still serves on its port, which PortStore.txt keeps.
		rep, _, _ = b.doctor(t, "--state-dir", state)
		expect(t, rep, "agent", doctor.Warn, "at the port PortStore.txt keeps for you; the port service is down, so pages cannot find it", "start the port service")
		text, code, took := b.run(t)
		if code != 1 || !strings.Contains(text, "  FAIL  port service ") || !strings.Contains(text, onSystemd("fix: start the port service: sudo systemctl start cardbridge-portservice", "fix: start the port service from your init system")) {
			t.Errorf("doctor (exit %d) printed:\n%s", code, text)
		}
		t.Logf("cardbridge doctor took %v and printed:\n%s", took, text)
		b.ps.start(t)
		b.good(t) // the agent registers again by itself
	})

	t.Run("pcscd stopped", func(t *testing.T) {
		if err := bed.Stop(); err != nil {
			t.Fatal(err)
		}
		rep, code, _ := b.doctor(t)
		expect(t, rep, "pcsc", doctor.Fail, "not running", onSystemd("sudo systemctl start pcscd.socket pcscd", "start the smart card service from your init system"))
		expect(t, rep, "readers", doctor.Skip, "", "")
		expect(t, rep, "card", doctor.Skip, "", "")
		expectExit(t, code, 1, rep)
		_ = card.Remove() // vpcd went with pcscd
		if err := bed.Start(); err != nil {
			t.Fatal(err)
		}
		insert(t, card, 0)
		b.good(t)
	})

	t.Run("no reader", func(t *testing.T) {
		if err := bed.Stop(); err != nil {
			t.Fatal(err)
		}
		_ = card.Remove()
		if err := bed.SetSlots(); err != nil {
			t.Fatal(err)
		}
		if err := bed.Start(); err != nil {
			t.Fatal(err)
		}
		rep, code, _ := b.doctor(t)
		expect(t, rep, "readers", doctor.Fail, "no card reader found", "connect the card reader; check that `lsusb` lists it")
		expect(t, rep, "card", doctor.Skip, "no card reader", "")
		expectExit(t, code, 1, rep)
		if err := bed.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := bed.SetSlots(testbed.DefaultSlot); err != nil {
			t.Fatal(err)
		}
		if err := bed.Start(); err != nil {
			t.Fatal(err)
		}
		insert(t, card, 0)
		b.good(t)
	})

	t.Run("trusted URL down", func(t *testing.T) {
		url := trusted.URL
		trusted.Close()
		b.ps.stop(t)
		b.ps.start(t)
		rep, code := b.until(t, "the trusted URL's failure", func(r doctor.Report, _ int) bool { return statusOf(r, "trusted-url") == doctor.Fail })
		expect(t, rep, "trusted-url", doctor.Fail, url+": the port service cannot fetch it: fetch versioninfo", "open "+url+"/api/versioninfo in a browser")
		expect(t, rep, "trusted-url", doctor.Fail, "last answered: never); the cached DomainList stays in force; doctor cannot reach it either", "")
		expect(t, rep, "domainlist", doctor.OK, "version test-2, 3 entries", "")
		expectExit(t, code, 1, rep)
		// The port service's versioninfo carries the error for everyone.
		out, err := exec.Command("curl", "-sf", fmt.Sprintf("http://127.0.0.1:%d/api/versioninfo", b.ps.port)).Output()
		if err != nil || !strings.Contains(string(out), `"error":"fetch versioninfo: `) || !strings.Contains(string(out), `"updated":"`) {
			t.Errorf("port service versioninfo: %s (%v)", out, err)
		}
	})

	t.Run("DomainList stale", func(t *testing.T) {
		// The trusted URL is still down, and the list was saved 30 days ago.
		b.ps.stop(t)
		old := time.Now().Add(-30 * 24 * time.Hour)
		if err := os.Chtimes(filepath.Join(state, "DomainList.txt"), old, old); err != nil {
			t.Fatal(err)
		}
		b.ps.start(t)
		rep, code := b.until(t, "a stale DomainList", func(r doctor.Report, _ int) bool { return statusOf(r, "trusted-url") == doctor.Fail })
		expect(t, rep, "domainlist", doctor.Warn, "stale: not refreshed from the trusted URL for 30 days", "see the trusted URL line")
		expect(t, rep, "trusted-url", doctor.Fail, "the port service cannot fetch it", "check proxy, firewall and DNS")
		expectExit(t, code, 1, rep)
	})

	t.Run("DomainList stale: newer version published but not served", func(t *testing.T) {
		newer := trustedServer(t, "test-3", http.StatusInternalServerError)
		b.ps.stop(t)
		b.ps.extra = []string{"--trusted-url", newer.URL}
		b.ps.start(t)
		rep, code := b.until(t, "the unfetchable newer list", func(r doctor.Report, _ int) bool { return statusOf(r, "trusted-url") == doctor.Fail })
		expect(t, rep, "domainlist", doctor.Warn, "version test-2, 3 entries", "the port service cannot refresh it")
		expect(t, rep, "domainlist", doctor.Warn, "stale: the trusted URL publishes version test-3", "")
		expect(t, rep, "trusted-url", doctor.Fail, "500", "/api/versioninfo in a browser")
		expectExit(t, code, 1, rep)
		out, code, _ := b.run(t)
		if code != 1 || !strings.Contains(out, "  FAIL  trusted URL") || !strings.Contains(out, "fix: ") {
			t.Errorf("doctor (exit %d) printed:\n%s", code, out)
		}
		t.Logf("cardbridge doctor printed:\n%s", out)
	})

	t.Run("PIN prompt needs a terminal", func(t *testing.T) {
		// A pinentry-curses, as Debian installs with GnuPG: the agent
		// started at login could not sign.
		curses := filepath.Join(t.TempDir(), "pinentry-curses")
		if err := os.Symlink(filepath.Join(binDir, "fakepinentry"), curses); err != nil {
			t.Fatal(err)
		}
		rep, code, _ := b.doctor(t, "--pinentry", curses)
		expect(t, rep, "pin-prompt", doctor.Fail, "works only in a terminal", "pinentry-gnome3")
		expectExit(t, code, 1, rep)
		rep, _, _ = b.doctor(t)
		expect(t, rep, "pin-prompt", doctor.OK, filepath.Join(binDir, "fakepinentry")+" (configured)", "")
	})
}
