package winlane

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// eventSourceKey is the port service's event source, as the MSI registers
// it (installer/windows/cardbridge.wxs).
const eventSourceKey = `HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\cardbridge-portservice`

// eventLogDebug makes Wine print what reaches its event log: Wine's
// ReportEventW (dlls/advapi32/eventlog.c) keeps no events but writes each
// string to its "eventlog" debug channel, in the class of the event's type
// (ERR_ for EVENTLOG_ERROR_TYPE, WARN_ for EVENTLOG_WARNING_TYPE, TRACE_
// for the others), so with every class of that channel on, each event the
// port service reports shows as "<class>:eventlog:ReportEventW L"<text>"".
const eventLogDebug = "WINEDEBUG=-all,+eventlog"

// reported are the event texts Wine's ReportEventW printed in out, by
// class: "warn", "err" or "trace"; Wine escapes them as C strings and
// shortens them to about 300 characters.
func reported(out string) map[string][]string {
	// debugstr_w ends a string it shortened with "...", after the quote.
	re := regexp.MustCompile(`(?m)\b(warn|err|trace):eventlog:ReportEventW L"(.*)"(?:\.\.\.)?\r?$`)
	got := map[string][]string{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		got[m[1]] = append(got[m[1]], m[2])
	}
	return got
}

// TestEventLog: the Windows port service's warnings and errors reach the
// event log through Wine's real ReportEventW, one human line each, and the
// file log still has every line. The warning is a bad DomainList line, the
// error a well-known port another program holds. Without the event source
// registered the service runs all the same, and its file says once that
// the event log is unavailable.
func TestEventLog(t *testing.T) {
	needLane(t)
	// The squatter: a program of the host holding the first well-known port
	// (it answers HTTP, so the service sees it is no port service).
	squat, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	go http.Serve(squat, http.NotFoundHandler())
	held := squat.Addr().(*net.TCPAddr).Port

	// start runs the port service with a DomainList holding a bad line and
	// waits until its log has the line's warning, the held port's error and
	// its start; it returns the log file's and the program's output.
	start := func(t *testing.T) (file, out string) {
		t.Helper()
		dir := filepath.Join(lane.work, strings.ReplaceAll(t.Name(), "/", "_"))
		state := filepath.Join(dir, "state")
		if err := os.MkdirAll(state, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, "DomainList.txt"), []byte("https://my.esr.nhs.uk\nnot an origin\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		free := testutil.FreePort(t)
		logFile := filepath.Join(dir, "portservice.log")
		p, err := startInRoot("cardbridge-portservice", "env", eventLogDebug, "wine64", exe("cardbridge-portservice"), "run",
			"--state-dir", winPath(state), "--ports", strconv.Itoa(held)+","+strconv.Itoa(free), "--range", "56800-56899",
			"--socket", `\\.\pipe\cardbridge-lane-eventlog-`+strconv.Itoa(free), "--log", winPath(logFile))
		if err != nil {
			t.Fatal(err)
		}
		defer p.stop()
		read := func() string { b, _ := os.ReadFile(logFile); return string(b) }
		testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the port service to start and log the bad line and the held port", func() bool {
			s := read()
			return strings.Contains(s, "port service started") && strings.Contains(s, "dropping a bad DomainList line") &&
				strings.Contains(s, "well-known port is held by another program")
		})
		// Wine prints each event as it is reported, before the next line
		// is logged; a moment for the output pipe.
		time.Sleep(500 * time.Millisecond)
		p.stop()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("port service log:\n%s\nits output:\n%s", read(), p.out.String())
			}
		})
		return read(), p.out.String()
	}

	t.Run("unregistered", func(t *testing.T) {
		_, _ = runInRoot(t, "wine64", "reg", "delete", eventSourceKey, "/f")
		file, out := start(t)
		if n := strings.Count(file, "the Windows event log is unavailable"); n != 1 || !strings.Contains(file, "cardbridge-portservice is not registered") {
			t.Errorf("the log says %d times that the event log is unavailable, want once, saying the source is not registered", n)
		}
		if ev := reported(out); len(ev) > 0 {
			t.Errorf("events reported with the source unregistered: %q", ev)
		}
	})

	t.Run("registered", func(t *testing.T) {
		// As the MSI registers it (golang.org/x/sys/windows/svc/eventlog's
		// InstallAsEventCreate writes the same values).
		for _, v := range [][]string{
			{"/v", "EventMessageFile", "/t", "REG_EXPAND_SZ", "/d", `%SystemRoot%\System32\EventCreate.exe`},
			{"/v", "TypesSupported", "/t", "REG_DWORD", "/d", "7"},
			{"/v", "CustomSource", "/t", "REG_DWORD", "/d", "1"},
		} {
			if out, err := runInRoot(t, "wine64", append(append([]string{"reg", "add", eventSourceKey}, v...), "/f")...); err != nil {
				t.Fatalf("reg add %s: %v\n%s", v[1], err, out)
			}
		}
		t.Cleanup(func() { _, _ = runInRoot(t, "wine64", "reg", "delete", eventSourceKey, "/f") })
		file, out := start(t)
		if strings.Contains(file, "unavailable") {
			t.Error("with the source registered the log says the event log is unavailable")
		}
		ev := reported(out)
		// Wine's debugstr_w doubles backslashes and shortens long strings.
		warning := `warning: dropping a bad DomainList line component=portservice file=Z:\\`
		if len(ev["warn"]) != 1 || !strings.HasPrefix(ev["warn"][0], warning) || !strings.Contains(ev["warn"][0], `\\state\\DomainList.txt line=2 reason=`) {
			t.Errorf("warning events %q; want one, starting %q, naming line 2", ev["warn"], warning)
		}
		errText := "error: security: a well-known port is held by another program"
		if len(ev["err"]) != 1 || !strings.HasPrefix(ev["err"][0], errText) || !strings.Contains(ev["err"][0], "port "+strconv.Itoa(held)) {
			t.Errorf("error events %q; want one, starting %q, naming port %d", ev["err"], errText, held)
		}
		if len(ev["trace"]) > 0 {
			t.Errorf("information events reported: %q; only warnings and errors go to the event log", ev["trace"])
		}
		for _, want := range []string{`"level":"warn"`, `"message":"dropping a bad DomainList line"`, `"level":"error"`, `"message":"port service started"`} {
			if !strings.Contains(file, want) {
				t.Errorf("the file log lacks %s", want)
			}
		}
	})
}

// runInRoot runs a program in the root to its end, with its output.
func runInRoot(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := inRoot(name, args...).CombinedOutput()
	return string(out), err
}
