package winlane

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// policyKey is where Group Policy puts cardbridge's settings
// (installer/windows/admx/cardbridge.admx).
const policyKey = `SOFTWARE\Policies\cardbridge`

// reg runs Wine's reg.exe in the lane's prefix: the registry the Windows
// programs read.
func reg(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := inRootCtx(ctx, "wine64", append([]string{"reg"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("reg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// clearPolicies removes every cardbridge policy, machine and user.
func clearPolicies(t *testing.T) {
	t.Helper()
	for _, root := range []string{"HKLM", "HKCU"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = inRootCtx(ctx, "wine64", "reg", "delete", root+`\`+policyKey, "/f").Run() // absent is fine
		cancel()
	}
}

// versionInfo is the part of /api/versioninfo the test reads.
type versionInfo struct {
	DomainList struct {
		Source  string   `json:"source"`
		Entries []string `json:"entries"`
	} `json:"domainList"`
	Settings []struct {
		Name, Value, Source, Where string
	} `json:"settings"`
	PolicyProblems []string `json:"policyProblems"`
}

// versionInfo asks as the agent's user's own tools do, without an Origin.
func (w *windowsAgent) versionInfo(t *testing.T) versionInfo {
	t.Helper()
	r := w.probe(t, "-origin", "", "/api/versioninfo")
	var vi versionInfo
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &vi) != nil {
		t.Fatalf("versioninfo: %d %s %s", r.Status, r.Body, r.Err)
	}
	return vi
}

// setting is the named setting of vi as "value source where".
func (vi versionInfo) setting(name string) string {
	for _, s := range vi.Settings {
		if s.Name == name {
			return s.Value + " " + s.Source + " " + s.Where
		}
	}
	return ""
}

// TestPolicyFromRegistry: Group Policy's registry values, read through
// Wine's advapi32, change a running Windows install. A DomainList policy
// set while the port service and the agent run is in force within seconds
// (the list underneath refused, the policy's site served); a LogLevel
// policy beats the flag of the next agent started, the machine's over the
// user's; a machine-only policy set per user is ignored and reported.
func TestPolicyFromRegistry(t *testing.T) {
	needLane(t)
	clearPolicies(t)
	t.Cleanup(func() { clearPolicies(t) })
	c, _, _ := newCard(t, "555000000703", "p256")
	insert(t, c, 0)
	w := startRegistered(t)
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "GET /api/card to give the card's UUID", func() bool { return w.cardUUID(t) == "555000000703" })

	const site = "https://policy.example"
	reg(t, "add", `HKLM\`+policyKey+`\DomainList`, "/v", "1", "/t", "REG_SZ", "/d", site, "/f")
	reg(t, "add", `HKLM\`+policyKey+`\DomainList`, "/v", "2", "/t", "REG_SZ", "/d", "not an origin", "/f")
	testutil.WaitFor(t, 60*time.Second, 50*time.Millisecond, "the agent to refuse the site the policy leaves out", func() bool {
		r := w.probe(t, "/api/card")
		return r.Status == 403 && strings.Contains(r.Body, "ORIGIN_NOT_ALLOWED")
	})
	if r := w.probe(t, "-origin", site, "/api/card"); r.Status != 200 || !strings.Contains(r.Body, "555000000703") {
		t.Errorf("the policy's site got %d %s", r.Status, r.Body)
	}
	// The port service may hand the agent the policy's list before the
	// agent's own look at the registry names the policy as its source.
	want := `policy:HKLM\` + policyKey + `\DomainList`
	vi := w.versionInfo(t)
	for deadline := time.Now().Add(30 * time.Second); vi.DomainList.Source != want && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		vi = w.versionInfo(t)
	}
	if vi.DomainList.Source != want || strings.Join(vi.DomainList.Entries, " ") != site {
		t.Errorf("the agent's DomainList: %s %v, want %s [%s]", vi.DomainList.Source, vi.DomainList.Entries, want, site)
	}
	ps := (&windowsAgent{port: w.psPort}).versionInfo(t)
	if !strings.HasPrefix(ps.DomainList.Source, `policy:HKLM\`) {
		t.Errorf("the port service's DomainList comes from %s", ps.DomainList.Source)
	}
	if log, _ := os.ReadFile(filepath.Join(w.dir, "portservice.log")); !strings.Contains(string(log), `"entry":2`) {
		t.Errorf("the port service did not log the bad policy entry by number:\n%s", log)
	}

	// Log level: the machine's policy over the user's, both over the flag.
	reg(t, "add", `HKCU\`+policyKey, "/v", "LogLevel", "/t", "REG_SZ", "/d", "error", "/f")
	reg(t, "add", `HKLM\`+policyKey, "/v", "LogLevel", "/t", "REG_SZ", "/d", "warn", "/f")
	reg(t, "add", `HKCU\`+policyKey, "/v", "TrustedURL", "/t", "REG_SZ", "/d", "https://user.example/list", "/f")
	port := testutil.FreePort(t)
	logFile := filepath.Join(w.dir, "standalone.log")
	startWindows(t, "cardbridge", "agent", "--listen", strconv.Itoa(port), "--log", winPath(logFile), "--log-level", "debug")
	sa := &windowsAgent{port: port}
	testutil.WaitFor(t, 90*time.Second, 50*time.Millisecond, "the second agent to listen", func() bool { return testutil.Listening(port) })
	vi = sa.versionInfo(t)
	if got, want := vi.setting("log-level"), `warn policy HKLM\`+policyKey+`\LogLevel`; got != want {
		t.Errorf("log-level: %q, want %q", got, want)
	}
	if !strings.Contains(strings.Join(vi.PolicyProblems, "\n"), `HKCU\`+policyKey+`: TrustedURL can be set for the whole machine only`) {
		t.Errorf("policy problems %q lack the per-user TrustedURL", vi.PolicyProblems)
	}
	// At warn the agent logs no info line, such as its start.
	time.Sleep(time.Second)
	if log, err := os.ReadFile(logFile); err != nil || strings.Contains(string(log), `"level":"info"`) {
		t.Errorf("the agent logs info at the policy's warn (%v):\n%s", err, log)
	}
	t.Logf("log-level read from Wine's registry: %s", vi.setting("log-level"))
}
