package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"html"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/peercred"
)

// fakeBackend is agent state fixed by a test.
type fakeBackend struct {
	mu        sync.Mutex
	available bool
	readers   []api.Reader
}

func (f *fakeBackend) set(available bool, readers ...api.Reader) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.available, f.readers = available, readers
}

func (f *fakeBackend) Readers() api.Readers {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.Readers{Readers: append([]api.Reader(nil), f.readers...)}
}
func (f *fakeBackend) Card(context.Context) api.Card   { return api.NoCard }
func (f *fakeBackend) CardJSON(context.Context) []byte { return []byte(`{"present":false}`) }
func (f *fakeBackend) Available() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.available
}
func (f *fakeBackend) Subscribe(int) (*agent.Event, *agent.Subscription) { return nil, nil }
func (f *fakeBackend) OpenSigner(context.Context, string) (*agent.CardSigner, error) {
	return nil, agent.ErrNoPINPrompt
}
func (f *fakeBackend) SigningCertificate(context.Context) (*x509.Certificate, error) {
	return nil, pcsc.ErrNoCard
}
func (f *fakeBackend) OpenSignatureSigner(context.Context, string) (*agent.CardSigner, error) {
	return nil, agent.ErrNoPINPrompt
}

// statusServer is a Server on a fake backend with a fake helpdesk check,
// whose callers are the user in caller.
type statusServer struct {
	*testServer
	backend *fakeBackend
	runs    atomic.Int32 // helpdesk checks run
}

func startStatusServer(t *testing.T, domains string) *statusServer {
	t.Helper()
	list, bad := domainlist.Parse([]byte(domains))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	ss := &statusServer{testServer: &testServer{}, backend: &fakeBackend{}}
	ts := ss.testServer
	ts.caller.Store(&me)
	ts.list.Store(list)
	ts.Server = New(Options{
		Backend: ss.backend,
		Domains: func() localhttp.DomainInfo {
			return localhttp.DomainInfo{List: ts.list.Load(), Source: "file:/etc/DomainList.txt"}
		},
		Self: me,
		PeerOwner: func(net.Conn) (peercred.User, error) {
			return *ts.caller.Load(), nil
		},
		Logger:  zerolog.New(&ts.logs),
		LogFile: "/home/alice/.local/state/cardbridge/agent.log",
		Settings: []api.Setting{
			{Name: "log-level", Value: "warn", Source: "policy", Where: `HKLM\SOFTWARE\Policies\cardbridge\LogLevel`},
			{Name: "pinentry", Value: "", Source: "default"},
		},
		PolicyProblems: []string{"PINPrompt: a machine-only policy <set per user>"},
		Diagnostics: func(ctx context.Context) doctor.Report {
			ss.runs.Add(1)
			return doctor.Report{Product: "cardbridge", User: "alice (uid:1000)", Checks: []doctor.Check{
				{ID: "card", Name: "card", Status: doctor.OK, Detail: "UUID 555123456789 in <Virtual PCD 00 00>"},
			}, OK: true}
		},
	})
	ts.serve(t)
	return ss
}

// page fetches the status page and returns its text, failing unless it is
// a 200 HTML answer.
func (ss *statusServer) page(t *testing.T) string {
	t.Helper()
	resp, body := ss.do(t, "GET", "/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status page: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	return string(body)
}

var verdictRE = regexp.MustCompile(`<p id="verdict" class="verdict (ok|warn|bad)">([^<]*)</p>`)

// verdictOfPage returns the page's verdict line and its class.
func verdictOfPage(t *testing.T, page string) (class, text string) {
	t.Helper()
	m := verdictRE.FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("the page has %d verdict lines:\n%s", len(m), page)
	}
	return m[0][1], html.UnescapeString(m[0][2])
}

const goodCert = "MIIB" // stands for a certificate: the page must never show it

func TestStatusPageVerdicts(t *testing.T) {
	ss := startStatusServer(t, testDomains)
	future := time.Now().Add(400 * 24 * time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	good := &api.Card{Present: true, Reader: "R0", ATR: "3B8F", UUID: "555123456789", Subject: "CN=555123456789, OU=People, O=nhs", NotAfter: future, Certificate: goodCert}
	notPIV := &api.Card{Present: true, Reader: "R0", ATR: "3B8F8001", Error: &api.Error{Code: api.CodeUnsupportedCard, Message: "read identity: no PIV application (SELECT answered 6A82): unsupported card"}}
	noCert := &api.Card{Present: true, Reader: "R0", ATR: "3B8F", Error: &api.Error{Code: api.CodeUnsupportedCard, Message: "read identity: card has no authentication certificate: unsupported card"}}
	expired := &api.Card{Present: true, Reader: "R0", ATR: "3B8F", UUID: "555000000001", Subject: "CN=555000000001", NotAfter: past}
	reading := &api.Card{Present: true, Reader: "R0", ATR: "3B8F"}
	for _, tc := range []struct {
		name      string
		available bool
		readers   []api.Reader
		class     string
		verdict   string
		also      []string // more the page must say
		never     []string // what the page must not say
	}{
		{"no PC/SC service", false, nil, "bad", "Not working: the smart card service of this computer (PC/SC) is not running.", []string{"not running", startPCSCAdvice()}, nil},
		{"no reader", true, nil, "bad", "Not working: no card reader is connected.", []string{"none found"}, nil},
		{"no card", true, []api.Reader{{Name: "R0"}}, "warn", "No smartcard: insert your NHS smartcard into the reader.", []string{"no card"}, nil},
		{"a good card", true, []api.Reader{{Name: "R0", CardPresent: true, Card: good}}, "ok", "All working: smartcard 555123456789 is ready to use.",
			[]string{"<code>555123456789</code>", "CN=555123456789, OU=People, O=nhs", "ready"}, []string{goodCert}},
		{"a card without PIV", true, []api.Reader{{Name: "R0", CardPresent: true, Card: notPIV}}, "bad", "Not working: the card in the reader is not an NHS smartcard.",
			[]string{"not a bank card", "<details><summary>Technical details</summary>", "<code>UNSUPPORTED_CARD</code>", "SELECT answered 6A82", "<code>3B8F8001</code>"}, nil},
		{"a card without a certificate", true, []api.Reader{{Name: "R0", CardPresent: true, Card: noCert}}, "bad", "Not working: This smartcard holds no login certificate: it has not been set up, or its certificate was removed.",
			[]string{"Registration Authority"}, nil},
		{"an expired card", true, []api.Reader{{Name: "R0", CardPresent: true, Card: expired}}, "bad", "Not working: the certificate on smartcard 555000000001 has expired.", []string{"expired "}, nil},
		{"a card being read", true, []api.Reader{{Name: "R0", CardPresent: true, Card: reading}}, "warn", "Reading the smartcard…", nil, nil},
		{"a bad card beside a good one", true, []api.Reader{{Name: "R0", CardPresent: true, Card: notPIV}, {Name: "R1", CardPresent: true, Card: good}}, "ok", "All working: smartcard 555123456789 is ready to use.",
			[]string{"not an NHS smartcard"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss.backend.set(tc.available, tc.readers...)
			page := ss.page(t)
			class, text := verdictOfPage(t, page)
			if class != tc.class || text != tc.verdict {
				t.Errorf("verdict %s %q, want %s %q", class, text, tc.class, tc.verdict)
			}
			for _, want := range tc.also {
				if !strings.Contains(page, html.EscapeString(want)) && !strings.Contains(page, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			for _, never := range tc.never {
				if strings.Contains(page, never) {
					t.Errorf("the page shows %q", never)
				}
			}
			// The technical detail is folded away, never in the verdict.
			if strings.Contains(text, "6A82") || strings.Contains(text, "UNSUPPORTED_CARD") {
				t.Errorf("the verdict is jargon: %q", text)
			}
		})
	}

	t.Run("an empty DomainList", func(t *testing.T) {
		empty, _ := domainlist.Parse(nil)
		ss.list.Store(empty)
		defer func() { l, _ := domainlist.Parse([]byte(testDomains)); ss.list.Store(l) }()
		ss.backend.set(true, api.Reader{Name: "R0", CardPresent: true, Card: good})
		if class, text := verdictOfPage(t, ss.page(t)); class != "bad" || !strings.Contains(text, "no web site is trusted") {
			t.Errorf("verdict %s %q", class, text)
		}
	})
}

// TestStatusPageIsStillAndStrict: the page does not reload itself (no meta
// refresh, no script) but offers a Refresh link; its CSP allows its own
// <style> by hash and nothing else; the document headers are set.
func TestStatusPageIsStillAndStrict(t *testing.T) {
	ss := startStatusServer(t, testDomains)
	ss.backend.set(true, api.Reader{Name: "R0"})
	resp, body := ss.do(t, "GET", "/", nil)
	page := string(body)
	if strings.Contains(strings.ToLower(page), "http-equiv") || strings.Contains(page, "<script") || strings.Contains(page, " style=") {
		t.Error("the page reloads itself, runs script or has inline style attributes")
	}
	if !strings.Contains(page, `<a class="refresh" href="/">Refresh</a>`) {
		t.Error("the page has no Refresh link")
	}
	start, end := strings.Index(page, "<style>"), strings.Index(page, "</style>")
	if start < 0 || end < start {
		t.Fatal("the page has no <style>")
	}
	sum := sha256.Sum256([]byte(page[start+len("<style>") : end]))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if got := resp.Header.Get("Content-Security-Policy"); got != want {
		t.Errorf("CSP %q, want %q", got, want)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	// The Guard still stands in front of the page.
	if resp, _ := ss.do(t, "GET", "/", map[string]string{"Host": "evil.example"}); resp.StatusCode != 421 {
		t.Errorf("the page answered a DNS-rebinding Host: %d", resp.StatusCode)
	}
	if resp, _ := ss.do(t, "GET", "/", map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != 403 {
		t.Errorf("the page answered a foreign Origin: %d", resp.StatusCode)
	}
	// Nor may an allowed site's page read it: it is for people.
	resp, body = ss.do(t, "GET", "/", map[string]string{"Origin": "https://my.esr.nhs.uk"})
	if resp.StatusCode != 403 || errorCode(body) != "ORIGIN_NOT_ALLOWED" || strings.Contains(string(body), "alice") {
		t.Errorf("an allowed site's page read the status page: %d %s", resp.StatusCode, body)
	}
}

// TestStatusPageShowsRefusals: what the Guard refused is listed, newest
// first, with why in plain words, without the query string, bounded to the
// latest few; a hostile Origin is shown escaped.
func TestStatusPageShowsRefusals(t *testing.T) {
	ss := startStatusServer(t, testDomains)
	ss.backend.set(true)
	if strings.Contains(ss.page(t), `<tbody id="refused-list">`) || !strings.Contains(ss.page(t), "None since the agent started.") {
		t.Error("refusals listed before any")
	}
	ss.do(t, "GET", "/api/card?token=s3cret", map[string]string{"Origin": "https://evil.example"})
	// Another user's program, on a connection of its own (the owner is
	// found once per connection).
	ss.caller.Store(&other)
	req, _ := http.NewRequest("GET", ss.url("/api/readers"), nil)
	req.Header.Set("Origin", "https://my.esr.nhs.uk")
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ss.caller.Store(&me)
	if resp.StatusCode != 403 {
		t.Fatalf("another user: %d", resp.StatusCode)
	}
	ss.do(t, "GET", "/api/versioninfo", map[string]string{"Host": "rebind.example"})
	page := ss.page(t)
	rows := regexp.MustCompile(`(?s)<tbody id="refused-list">(.*?)</tbody>`).FindStringSubmatch(page)
	if rows == nil {
		t.Fatalf("no refusals listed:\n%s", page)
	}
	list := strings.Split(strings.TrimSpace(rows[1]), "\n")
	if len(list) != 3 {
		t.Fatalf("%d refusals listed, want 3:\n%s", len(list), rows[1])
	}
	for i, want := range []string{
		"rebind.example&rdquo;, not to localhost", // newest first
		"another user of this computer (uid:1001)",
		"not on the DomainList",
	} {
		if !strings.Contains(list[i], want) && !strings.Contains(html.UnescapeString(list[i]), html.UnescapeString(want)) {
			t.Errorf("refusal %d: %s, want %q", i, list[i], want)
		}
	}
	if !strings.Contains(list[2], "<code>https://evil.example</code>") || !strings.Contains(list[2], "<code>GET /api/card</code>") {
		t.Errorf("the refused origin: %s", list[2])
	}
	if strings.Contains(page, "s3cret") {
		t.Error("the page shows a refused request's query string")
	}

	for i := 0; i < refusedKept+5; i++ {
		ss.do(t, "GET", "/api/card", map[string]string{"Origin": "https://x" + strings.Repeat("y", i) + ".example\"<b>"})
	}
	page = ss.page(t)
	if n := strings.Count(page, "https://xy"); n != refusedKept {
		t.Errorf("%d refusals of the flood listed, want the latest %d", n, refusedKept)
	}
	if !strings.Contains(page, "(10 of 18 since it started)") {
		t.Error("the page does not say how many were refused in all")
	}
	if strings.Contains(page, `"<b>`) {
		t.Error("a hostile Origin reached the page unescaped")
	}
}

// TestStatusPageDiagnostics: the page holds the helpdesk report in a
// read-only text box, escaped, and runs the check once for pages asked for
// close together.
func TestStatusPageDiagnostics(t *testing.T) {
	ss := startStatusServer(t, testDomains)
	ss.backend.set(true)
	page := ss.page(t)
	box := regexp.MustCompile(`(?s)<textarea id="diag" readonly[^>]*>(.*)</textarea>`).FindStringSubmatch(page)
	if box == nil {
		t.Fatalf("no diagnostics box:\n%s", page)
	}
	var rep doctor.Report
	if err := json.Unmarshal([]byte(html.UnescapeString(box[1])), &rep); err != nil {
		t.Fatalf("the box does not hold doctor's JSON: %v\n%s", err, box[1])
	}
	if rep.User != "alice (uid:1000)" || len(rep.Checks) != 1 || rep.Checks[0].Detail != "UUID 555123456789 in <Virtual PCD 00 00>" {
		t.Errorf("diagnostics %+v", rep)
	}
	if strings.Contains(box[1], "<Virtual") {
		t.Error("the diagnostics are not escaped")
	}
	ss.page(t)
	if n := ss.runs.Load(); n != 1 {
		t.Errorf("the check ran %d times for two pages in a row, want once", n)
	}
	// A card goes in: the report made without it is not shown again.
	ss.backend.set(true, api.Reader{Name: "R0", CardPresent: true, Card: &api.Card{Present: true, Reader: "R0", UUID: "555123456789"}})
	ss.page(t)
	if n := ss.runs.Load(); n != 2 {
		t.Errorf("the check ran %d times in all after the state changed, want 2", n)
	}
}

// TestLocalTimes: times are shown in the local zone, named, with its
// offset.
func TestLocalTimes(t *testing.T) {
	xst := time.FixedZone("XST", 5*3600+30*60)
	at := time.Date(2026, 12, 5, 11, 42, 7, 0, time.UTC)
	if got := timeIn(at, xst); got != "5 Dec 2026 17:12:07 XST (+05:30)" {
		t.Errorf("timeIn = %q", got)
	}
	if got := dateIn(at, xst); got != "5 Dec 2026 17:12 XST" {
		t.Errorf("dateIn = %q", got)
	}
	if localTime(time.Time{}) != "—" || localDate(time.Time{}) != "—" {
		t.Error("a zero time is not shown as none")
	}
	if got, want := localTime(at), at.Local().Format("2 Jan 2006 15:04:05 MST (-07:00)"); got != want {
		t.Errorf("localTime = %q, want %q", got, want)
	}
}

func TestRefusedRingClips(t *testing.T) {
	var q refusedRing
	long := strings.Repeat("é", refusedFieldMax)
	q.add(localhttp.Refusal{Origin: long, Path: "/" + long})
	got, total := q.latest()
	if total != 1 || len(got) != 1 || len(got[0].Origin) > refusedFieldMax+len("…") || !strings.HasSuffix(got[0].Origin, "…") || !strings.HasPrefix(got[0].Path, "/é") {
		t.Errorf("%d %+v", total, got)
	}
	if !strings.HasPrefix(got[0].Origin, "é") || strings.ContainsRune(got[0].Origin, '\uFFFD') {
		t.Error("clipped inside a character")
	}
}

// TestAgentProbesUseTheAgentsCards: the helpdesk check run by the agent
// describes each card as the agent read it, never asking the card.
func TestAgentProbesUseTheAgentsCards(t *testing.T) {
	b := &fakeBackend{}
	good := &api.Card{Present: true, Reader: "R0", UUID: "555123456789"}
	b.set(true, api.Reader{Name: "R0", CardPresent: true, Card: good}, api.Reader{Name: "R1", CardPresent: true, Card: &api.Card{Present: true, Reader: "R1"}})
	p := agentProbes{System: doctor.NewSystem(), backend: b}
	if got := p.ReadCard(context.Background(), pcsc.Reader{Name: "R0"}); got.UUID != "555123456789" {
		t.Errorf("R0: %+v", got)
	}
	if got := p.ReadCard(context.Background(), pcsc.Reader{Name: "R1"}); got.Error == nil || got.Error.Code != api.CodeBusy || got.Reader != "R1" {
		t.Errorf("a card still being read: %+v", got)
	}
}

// TestStatusPageShowsSettings: every setting, its value and what set it
// (an administrator's policy named as such), and the policies ignored.
func TestStatusPageShowsSettings(t *testing.T) {
	ss := startStatusServer(t, testDomains)
	ss.backend.set(true)
	page := ss.page(t)
	for _, want := range []string{
		"<td><code>log-level</code></td><td><code>warn</code></td><td><strong>administrator's policy</strong> <span class=\"muted\">(HKLM\\SOFTWARE\\Policies\\cardbridge\\LogLevel)</span></td>",
		"<td><code>pinentry</code></td><td><code>—</code></td><td>default</td>",
		"Policy ignored:</span> PINPrompt: a machine-only policy &lt;set per user&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

// TestDiagnosticsPINEntry: the helpdesk check judges the PIN prompt the
// agent was given, from its settings.
func TestDiagnosticsPINEntry(t *testing.T) {
	s := New(Options{Logger: zerolog.Nop(), Settings: []api.Setting{{Name: "log-level", Value: "warn"}, {Name: "pinentry", Value: "/usr/bin/pinentry-gnome3", Source: "policy"}}})
	if got := s.pinEntry(); got != "/usr/bin/pinentry-gnome3" {
		t.Errorf("pinEntry = %q", got)
	}
	t.Setenv("CARDBRIDGE_PINENTRY", "/opt/pinentry-env")
	if got := New(Options{Logger: zerolog.Nop()}).pinEntry(); got != "/opt/pinentry-env" {
		t.Errorf("pinEntry without settings = %q", got)
	}
}
