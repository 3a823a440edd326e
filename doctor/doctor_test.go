package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
)

func find(t *testing.T, r Report, id string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", id, r.Checks)
	return Check{}
}

// The checks a healthy machine passes, in order.
var requiredChecks = []string{"pcsc", "readers", "card", "portservice", "agent", "agent-port", "domainlist", "trusted-url",
	"pin-prompt", "policy", "browser-lna-chrome", "browser-cookies-chrome", "agent-log", "portservice-log"}

func TestHealthy(t *testing.T) {
	f := healthy()
	r := Run(context.Background(), options(f))
	var ids []string
	for _, c := range r.Checks {
		ids = append(ids, c.ID)
		if c.Status != OK {
			t.Errorf("%s: %s %q (fix %q), want ok", c.ID, c.Status, c.Detail, c.Fix)
		}
		if c.Fix != "" {
			t.Errorf("%s: ok with a fix %q", c.ID, c.Fix)
		}
	}
	if strings.Join(ids, " ") != strings.Join(requiredChecks, " ") {
		t.Errorf("checks %v, want %v", ids, requiredChecks)
	}
	if !r.OK || r.ExitCode() != 0 || r.Summary.OK != len(requiredChecks) || r.Summary.Text != "all good: 14 checks ok" {
		t.Errorf("ok %v exit %d summary %+v", r.OK, r.ExitCode(), r.Summary)
	}
	for id, want := range map[string]string{
		"card":               "UUID 555123456789 in " + readerA + " (CN=555123456789, OU=People, O=nhs, valid until 2027-03-05)",
		"readers":            "2: " + readerA + ", " + readerB,
		"portservice":        "cardbridge-portservice 1.2.0 on ports 43487, 44213, 45031, 46478, 48853",
		"agent":              "cardbridge 1.2.0 on port 55012, registered with the port service",
		"agent-port":         "agree: 55012",
		"domainlist":         "version 2026-02, 2 entries (https://my.esr.nhs.uk, https://*.spineservices.nhs.uk), saved 2026-03-02 14:02 UTC, 3 days ago",
		"trusted-url":        trustedURL + ": answered the port service 2026-03-05 13:02 UTC, 1 hour ago",
		"agent-log":          agentLogDir + "/agent.log (12 KB, last written 2026-03-05 14:00 UTC, 2 minutes ago)",
		"browser-lna-chrome": "LocalNetworkAccessAllowedForUrls allows https://my.esr.nhs.uk, https://[*.]spineservices.nhs.uk",
		"portservice-log":    filepath.Join(stateDir, "portservice.log") + " (3.0 MB",
	} {
		if c := find(t, r, id); !strings.Contains(c.Detail, want) {
			t.Errorf("%s detail %q, want it to contain %q", id, c.Detail, want)
		}
	}
	// Doctor asked the port service as pages do, then the agent it named,
	// and fetched what the port service fetches from the trusted URL.
	asked := strings.Join(f.asked, "\n")
	for _, want := range []string{"43487 /PRS/GetPortNumber", "55012 /api/versioninfo", "43485 /api/versioninfo", trustedURL + "/api/domainlist"} {
		if !strings.Contains(asked, want) {
			t.Errorf("doctor never asked %q; asked:\n%s", want, asked)
		}
	}
	// The certificate itself is never shown.
	var out bytes.Buffer
	if err := WriteText(&out, r); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(out.String()+string(b), "secretcertificate") {
		t.Error("the report shows the card's certificate")
	}
}

// want is what one check must say: its status, and substrings of its
// detail and fix.
type want struct {
	id     string
	status Status
	detail string
	fix    string
}

func TestBrokenSetups(t *testing.T) {
	expired := now.Add(-24 * time.Hour).Format(time.RFC3339)
	soon := now.Add(10 * 24 * time.Hour).Format(time.RFC3339)
	notListening := func(f *fakeProbes, port int) {
		for k := range f.local {
			if strings.HasPrefix(k, fmt.Sprint(port)+" ") {
				delete(f.local, k)
			}
		}
	}
	// portServiceDown: nothing answers on any well-known port.
	portServiceDown := func(f *fakeProbes) {
		for _, p := range []int{43487, 44213, 45031, 46478, 48853} {
			notListening(f, p)
		}
	}
	withPS := func(f *fakeProbes, edit func(*api.VersionInfo)) {
		vi := psInfo()
		edit(&vi)
		f.local[key(psPort, "/api/versioninfo")] = ok200(vi)
	}
	hours := func(h int) *time.Time { t := now.Add(time.Duration(-h) * time.Hour); return &t }
	standalone := func(f *fakeProbes) {
		vi := agentInfoAt(43485)
		vi.PortService.Connected = false
		f.local[key(43485, "/api/versioninfo")] = ok200(vi)
	}
	pr30007 := ok200(map[string]any{"faultException": map[string]string{"code": "PR30007", "message": "Unable to find CM process for user"}})

	cases := []struct {
		name string
		goos string // linux when ""
		edit func(f *fakeProbes)
		want []want
		exit int
	}{
		{name: "pcscd stopped", edit: func(f *fakeProbes) {
			f.readersErr = fmt.Errorf("list readers: %w", &pcsc.Error{Op: "SCardEstablishContext", Code: 0x8010001D, Msg: "Service not available.", Kind: pcsc.ErrUnavailable})
		}, want: []want{
			{"pcsc", Fail, "not running", "sudo systemctl start pcscd.socket pcscd"},
			{"readers", Skip, "PC/SC service does not answer", ""},
			{"card", Skip, "PC/SC service does not answer", ""},
		}, exit: 1},
		{name: "smart card service stopped on Windows", goos: "windows", edit: func(f *fakeProbes) {
			f.readersErr = fmt.Errorf("list readers: %w", pcsc.ErrUnavailable)
		}, want: []want{{"pcsc", Fail, "not running", "start the Smart Card service (SCardSvr): services.msc, or as administrator `sc start SCardSvr`"}}, exit: 1},
		{name: "macOS without a reader", goos: "darwin", edit: func(f *fakeProbes) {
			f.readersErr = fmt.Errorf("list readers: %w", pcsc.ErrUnavailable)
		}, want: []want{{"pcsc", Fail, "not running", "plug the card reader in"}}, exit: 1},
		{name: "pcscd hangs", edit: func(f *fakeProbes) { f.readersHang = true }, want: []want{
			{"pcsc", Fail, "does not answer", "sudo systemctl restart pcscd"},
		}, exit: 1},
		{name: "a build without PC/SC", edit: func(f *fakeProbes) {
			f.readersErr = fmt.Errorf("list readers: this build of cardbridge has no PC/SC support (built without cgo): %w", pcsc.ErrUnavailable)
		}, want: []want{{"pcsc", Fail, "no PC/SC support", "install the cardbridge package"}}, exit: 1},
		{name: "no reader", edit: func(f *fakeProbes) { f.readers = []pcsc.Reader{} }, want: []want{
			{"readers", Fail, "no card reader found", "connect the card reader; check that `lsusb` lists it"},
			{"card", Skip, "no card reader", ""},
		}, exit: 1},
		{name: "no reader on Windows", goos: "windows", edit: func(f *fakeProbes) { f.readers = nil }, want: []want{
			{"readers", Fail, "no card reader found", "Device Manager"},
		}, exit: 1},
		{name: "card removed", edit: func(f *fakeProbes) { f.readers[0].CardPresent = false }, want: []want{
			{"card", Fail, "no card in any reader", "insert your smartcard"},
		}, exit: 1},
		{name: "unsupported card", edit: func(f *fakeProbes) { delete(f.cards, readerA) }, want: []want{
			{"card", Fail, "cannot be read (UNSUPPORTED_CARD: no PIV application)", "Registration Authority"},
		}, exit: 1},
		{name: "card held by another program", edit: func(f *fakeProbes) {
			f.cards[readerA] = api.Card{Present: true, Reader: readerA, Error: &api.Error{Code: api.CodeBusy, Message: "card in use by another program"}}
		}, want: []want{{"card", Fail, "BUSY", "close other smartcard software"}}, exit: 1},
		{name: "a good card and a bank card", edit: func(f *fakeProbes) { f.readers[1].CardPresent = true }, want: []want{
			{"card", OK, "UUID 555123456789 in " + readerA, ""},
			{"card", OK, "also the card in " + readerB + " cannot be read", ""},
		}},
		{name: "certificate expired", edit: func(f *fakeProbes) {
			c := f.cards[readerA]
			c.NotAfter = expired
			f.cards[readerA] = c
		}, want: []want{{"card", Fail, "certificate expired 2026-03-04", "renew your smartcard"}}, exit: 1},
		{name: "certificate expires soon", edit: func(f *fakeProbes) {
			c := f.cards[readerA]
			c.NotAfter = soon
			f.cards[readerA] = c
		}, want: []want{{"card", Warn, "expires 2026-03-15, in 10 days", "before 2026-03-15"}}},
		{name: "port service not running", edit: portServiceDown, want: []want{
			{"portservice", Fail, "not running: nothing answers on ports 43487, 44213, 45031, 46478, 48853", "sudo systemctl start cardbridge-portservice"},
			{"agent", Skip, "cannot tell without the port service; none runs standalone on port 43485", ""},
			{"agent-port", Skip, "no port service", ""},
			{"domainlist", Skip, "neither the port service nor the agent", ""},
			{"trusted-url", Skip, "port service is not reachable", ""},
		}, exit: 1},
		{name: "port service not running on a Linux host without systemd", edit: func(f *fakeProbes) {
			portServiceDown(f)
			f.serviceManager = "none"
		}, want: []want{
			{"portservice", Fail, "not running", "start the port service from your init system (this host runs no systemd), or by hand: sudo cardbridge-portservice run"},
		}, exit: 1},
		{name: "port service not running on Windows", goos: "windows", edit: portServiceDown, want: []want{
			{"portservice", Fail, "not running", "`sc start cardbridge-portservice`"},
		}, exit: 1},
		{name: "port service hangs", edit: func(f *fakeProbes) {
			for _, p := range []int{43487, 44213, 45031, 46478, 48853} {
				f.local[key(p, "/api/versioninfo")] = reply{hang: true}
			}
		}, want: []want{
			{"portservice", Fail, "something listens on port 43487 but does not answer", "sudo systemctl restart cardbridge-portservice"},
		}, exit: 1},
		{name: "an old port service holds the first port", edit: func(f *fakeProbes) {
			notListening(f, psPort)
			f.local[key(psPort, "/api/versioninfo")] = reply{status: 404, body: "<html>Not Found</html>"}
			f.local[key(44213, "/PRS/GetPortNumber")] = ok200(map[string]any{"portData": map[string]int{"portNumber": agentPort}})
		}, want: []want{
			{"portservice", Fail, "on ports 44213, 45031, 46478, 48853; port 43487 is held by another program (it answers HTTP 404", "sudo ss -ltnp 'sport = :43487'"},
			{"agent-port", OK, "agree: 55012", ""},
		}, exit: 1},
		{name: "another user holds a well-known port", edit: func(f *fakeProbes) {
			f.local[key(46478, "/api/versioninfo")] = reply{status: 200, body: `{"portData":{"portNumber":55555}}`}
			f.holders = map[int]string{46478: "uid:1001 (mallory)"}
		}, want: []want{
			{"portservice", Fail, "port 46478 is held by another program of uid:1001 (mallory)", "stop or uninstall it"},
		}, exit: 1},
		{name: "a well-known port not served", edit: func(f *fakeProbes) { notListening(f, 45031) }, want: []want{
			{"portservice", Warn, "port 45031 is not served", "sudo systemctl restart cardbridge-portservice"},
		}},
		{name: "a user holds many ports of the range", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.PortRange = &api.PortRangeInfo{Lo: 55000, Hi: 55999, Holders: []api.PortHolder{{User: "uid:1001", Ports: 37}}}
			})
		}, want: []want{
			{"portservice", Warn, "on ports 43487, 44213, 45031, 46478, 48853; user uid:1001 holds 37 ports of the per-user range 55000-55999 besides their own", "sudo ss -tanpe '( sport >= :55000 and sport <= :55999 )'"},
			{"agent-port", OK, "agree: 55012", ""},
		}},
		{name: "the range is exhausted", goos: "windows", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.PortRange = &api.PortRangeInfo{Lo: 55000, Hi: 55009, Outside: 2, Holders: []api.PortHolder{{User: "S-1-5-21-1-2-3-1001", Ports: 10}}}
			})
		}, want: []want{
			{"portservice", Warn, "user S-1-5-21-1-2-3-1001 holds 10 ports of the per-user range 55000-55009 besides their own; 2 user(s) got a port outside the range 55000-55009", "netstat -abno"},
		}},
		{name: "a range nobody crowds", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.PortRange = &api.PortRangeInfo{Lo: 55000, Hi: 55999, Unusable: 3}
			})
		}, want: []want{
			{"portservice", OK, "cardbridge-portservice 1.2.0 on ports 43487, 44213, 45031, 46478, 48853", ""},
		}},
		{name: "another program on the port service's port", edit: func(f *fakeProbes) {
			portServiceDown(f)
			f.local[key(psPort, "/api/versioninfo")] = reply{status: 200, body: `{"hello":"world"}`}
		}, want: []want{{"portservice", Fail, "not found; port 43487 is held by another program", "uninstall"}}, exit: 1},
		{name: "agent not running", edit: func(f *fakeProbes) {
			f.local[key(psPort, "/PRS/GetPortNumber")] = pr30007
			notListening(f, agentPort)
		}, want: []want{
			{"agent", Fail, "the port service has no agent for you (PR30007)", "systemctl --user start cardbridge-agent"},
			{"agent-port", Skip, "no agent", ""},
		}, exit: 1},
		{name: "agent not running on macOS", goos: "darwin", edit: func(f *fakeProbes) {
			f.local[key(psPort, "/PRS/GetPortNumber")] = pr30007
		}, want: []want{{"agent", Fail, "PR30007", "launchctl kickstart gui/$(id -u)/org.cardbridge.agent"}}, exit: 1},
		{name: "agent hangs", edit: func(f *fakeProbes) {
			f.local[key(agentPort, "/api/versioninfo")] = reply{hang: true}
		}, want: []want{
			{"agent", Fail, "the port service gives port 55012, but the agent there does not answer within 2s", "systemctl --user restart cardbridge-agent"},
			{"agent-port", Skip, "no agent answers on port 55012", ""},
		}, exit: 1},
		{name: "agent gone from its port", edit: func(f *fakeProbes) { notListening(f, agentPort) }, want: []want{
			{"agent", Fail, "nothing listens there", "restart the agent"},
		}, exit: 1},
		{name: "another user's agent on my port", edit: func(f *fakeProbes) {
			f.local[key(agentPort, "/api/versioninfo")] = reply{status: 403, body: `{"error":{"code":"WRONG_USER","message":"not your agent"}}`}
		}, want: []want{{"agent", Fail, "another user's agent answers there", "IT security"}}, exit: 1},
		{name: "port service and agent disagree", edit: func(f *fakeProbes) {
			f.local[key(agentPort, "/api/versioninfo")] = ok200(agentInfoAt(55013))
		}, want: []want{
			{"agent-port", Fail, "the port service gives pages port 55012, but the agent there says it serves port 55013", "restart the agent"},
		}, exit: 1},
		{name: "agent lost the port service", edit: func(f *fakeProbes) {
			vi := agentInfoAt(agentPort)
			vi.PortService.Connected = false
			f.local[key(agentPort, "/api/versioninfo")] = ok200(vi)
		}, want: []want{{"agent-port", Warn, "lost its connection", "more than a minute"}}},
		{name: "GetPortNumber hangs", edit: func(f *fakeProbes) {
			f.local[key(psPort, "/PRS/GetPortNumber")] = reply{hang: true}
		}, want: []want{
			{"agent-port", Fail, "did not answer GetPortNumber within 3.5s", "restart the port service"},
			{"agent", Skip, "did not say which port is yours", ""},
		}, exit: 1},
		{name: "GetPortNumber answers nonsense", edit: func(f *fakeProbes) {
			f.local[key(psPort, "/PRS/GetPortNumber")] = reply{status: 200, body: `{"portData":{"portNumber":0}}`}
		}, want: []want{{"agent-port", Fail, "did not say which port is yours", "restart the port service"}}, exit: 1},
		{name: "standalone agent beside a port service", edit: func(f *fakeProbes) {
			f.local[key(psPort, "/PRS/GetPortNumber")] = pr30007
			standalone(f)
		}, want: []want{
			{"agent", OK, "cardbridge 1.2.0 on port 43485, standalone", ""},
			{"agent-port", Fail, "the port service has no agent for you (PR30007), but one runs standalone on port 43485", "without --listen"},
		}, exit: 1},
		{name: "standalone agent without a port service", edit: func(f *fakeProbes) {
			portServiceDown(f)
			standalone(f)
		}, want: []want{
			{"portservice", Warn, "the agent runs standalone on port 43485", "sudo systemctl start cardbridge-portservice"},
			{"agent", OK, "standalone", ""},
			{"domainlist", OK, "version 2026-02, 2 entries", ""},
		}},
		{name: "registered agent while the port service is down", edit: func(f *fakeProbes) {
			portServiceDown(f)
			f.userID = "uid:1000"
			f.contents = map[string]string{filepath.Join(DefaultStateDir("linux"), "PortStore.txt"): "uid:999\t55001\t2026-03-01T08:00:00Z\nuid:1000\t55123\t2026-03-05T08:00:00Z\n"}
			f.local[key(55123, "/api/versioninfo")] = ok200(agentInfoAt(55123))
		}, want: []want{
			{"portservice", Fail, "not running", "sudo systemctl start cardbridge-portservice"},
			{"agent", Warn, "cardbridge 1.2.0 on port 55123, at the port PortStore.txt keeps for you; the port service is down, so pages cannot find it", "sudo systemctl start cardbridge-portservice"},
		}, exit: 1},
		{name: "port service down, PortStore.txt names a port nobody serves", edit: func(f *fakeProbes) {
			portServiceDown(f)
			f.userID = "uid:1000"
			f.contents = map[string]string{filepath.Join(DefaultStateDir("linux"), "PortStore.txt"): "uid:1000\t55123\t2026-03-05T08:00:00Z\n"}
		}, want: []want{
			{"agent", Skip, "cannot tell without the port service; none runs standalone on port 43485", ""},
		}, exit: 1},
		{name: "two agents", edit: standalone, want: []want{
			{"agent", Warn, "a second agent runs standalone on port 43485", "stop the agent started with --listen"},
		}},
		{name: "agent cut off from PC/SC", edit: func(f *fakeProbes) {
			f.local[key(agentPort, "/api/readers")] = reply{status: 503, body: `{"error":{"code":"PCSC_UNAVAILABLE","message":"the smart card service (PC/SC) is not running"}}`}
		}, want: []want{{"agent", Warn, "the PC/SC service is unavailable, though doctor reaches it", "restart the agent"}}},
		{name: "trusted URL down since the service started", edit: func(f *fakeProbes) {
			f.remote = nil
			withPS(f, func(vi *api.VersionInfo) {
				vi.TrustedURL.Error = `fetch versioninfo: Get "https://cardbridge.example.nhs.uk/api/versioninfo": dial tcp: connection refused`
				vi.TrustedURL.LastSuccess = nil
			})
		}, want: []want{
			{"trusted-url", Fail, "the port service cannot fetch it: fetch versioninfo", "open https://cardbridge.example.nhs.uk/api/versioninfo in a browser"},
			{"trusted-url", Fail, "last answered: never); the cached DomainList stays in force; doctor cannot reach it either", ""},
			{"domainlist", OK, "version 2026-02", ""},
		}, exit: 1},
		{name: "trusted URL down for an hour", edit: func(f *fakeProbes) {
			f.remote = nil
			withPS(f, func(vi *api.VersionInfo) {
				vi.TrustedURL.Error = "fetch versioninfo: HTTP 502"
				vi.TrustedURL.Checked, vi.TrustedURL.LastSuccess = hours(0), hours(1)
			})
		}, want: []want{{"trusted-url", Warn, "it last answered 2026-03-05 13:02 UTC, 1 hour ago", "retries by itself"}}},
		{name: "trusted URL failed the service but answers doctor", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.TrustedURL.Error = "fetch versioninfo: proxy refused"
				vi.TrustedURL.LastSuccess = nil
			})
		}, want: []want{{"trusted-url", Warn, "it answers doctor now", "proxy settings differ"}}},
		{name: "trusted URL serves a broken list", edit: func(f *fakeProbes) {
			f.remote[trustedURL+"/api/domainlist"] = reply{status: 500, body: "oops"}
			withPS(f, func(vi *api.VersionInfo) {
				vi.TrustedURL.Error = "fetch domainlist: HTTP 500"
				vi.TrustedURL.LastSuccess = hours(48)
			})
		}, want: []want{{"trusted-url", Fail, "doctor cannot reach it either", "check proxy, firewall and DNS"}}, exit: 1},
		{name: "trusted URL not checked yet", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) { vi.TrustedURL.Checked, vi.TrustedURL.LastSuccess = nil, nil })
		}, want: []want{{"trusted-url", Info, "not checked by the port service yet", ""}}},
		{name: "no trusted URL", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.TrustedURL = api.TrustedURLInfo{}
				old := now.Add(-400 * 24 * time.Hour)
				vi.DomainList.Updated = &old
			})
		}, want: []want{
			{"trusted-url", Info, "none configured", ""},
			{"domainlist", OK, "kept by hand", ""},
		}},
		{name: "DomainList stale: a newer version is published", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.TrustedURL.DomainListVersion = "2026-03"
				vi.TrustedURL.Error = "fetch domainlist: HTTP 500"
			})
		}, want: []want{{"domainlist", Warn, "stale: the trusted URL publishes version 2026-03", "see the trusted URL line"}}},
		{name: "DomainList stale: not refreshed for weeks", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				old := now.Add(-40 * 24 * time.Hour)
				vi.DomainList.Updated = &old
				vi.TrustedURL.LastSuccess = hours(20 * 24)
				vi.TrustedURL.Error = "fetch versioninfo: timeout"
			})
			f.remote = nil
		}, want: []want{
			{"domainlist", Warn, "stale: not refreshed from the trusted URL for 20 days", "restart cardbridge-portservice"},
			{"trusted-url", Fail, "the port service cannot fetch it", ""},
		}, exit: 1},
		{name: "an old list confirmed current is not stale", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				old := now.Add(-300 * 24 * time.Hour)
				vi.DomainList.Updated = &old
			})
		}, want: []want{{"domainlist", OK, "confirmed current by the trusted URL 2026-03-05 13:02 UTC", ""}}},
		{name: "empty DomainList", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) { vi.DomainList.Entries = nil })
		}, want: []want{{"domainlist", Fail, "no web page may use cardbridge", filepath.Join(stateDir, "DomainList.txt")}}, exit: 1},
		{name: "the agent's list lags", edit: func(f *fakeProbes) {
			vi := agentInfoAt(agentPort)
			vi.DomainList.Version = "2025-12"
			f.local[key(agentPort, "/api/versioninfo")] = ok200(vi)
		}, want: []want{{"domainlist", Warn, "the agent still has version 2025-12", "restart the agent"}}},
		{name: "the agent uses its own list", edit: func(f *fakeProbes) {
			vi := agentInfoAt(agentPort)
			vi.DomainList.Source = "file:/home/alice/domains.txt"
			f.local[key(agentPort, "/api/versioninfo")] = ok200(vi)
		}, want: []want{{"domainlist", OK, "the agent uses its own list instead (--domains /home/alice/domains.txt", ""}}},
		{name: "no browser policy", edit: func(f *fakeProbes) { f.browsers[0].Policies = Policies{} }, want: []want{
			{"browser-lna-chrome", Warn, "LocalNetworkAccessAllowedForUrls is not set: users will be asked", `/etc/opt/chrome/policies/managed (for example cardbridge.json with {"LocalNetworkAccessAllowedForUrls": ["https://my.esr.nhs.uk","https://[*.]spineservices.nhs.uk"]})`},
		}},
		{name: "browser policy misses an origin", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["LocalNetworkAccessAllowedForUrls"] = []any{"https://my.esr.nhs.uk"}
		}, want: []want{{"browser-lna-chrome", Warn, "does not cover https://[*.]spineservices.nhs.uk", `add "https://[*.]spineservices.nhs.uk" to the Chrome policy LocalNetworkAccessAllowedForUrls`}}},
		{name: "Edge on Windows without a policy", goos: "windows", edit: func(f *fakeProbes) {
			f.browsers = []Browser{{ID: "edge", Name: "Edge", Installed: true, Where: `HKLM\SOFTWARE\Policies\Microsoft\Edge`, Policies: Policies{}}}
		}, want: []want{{"browser-lna-edge", Warn, "LoopbackNetworkAllowedForUrls is not set", `"1"="https://my.esr.nhs.uk", "2"="https://[*.]spineservices.nhs.uk" under HKLM\SOFTWARE\Policies\Microsoft\Edge\LoopbackNetworkAllowedForUrls`}}},
		{name: "Edge with part of the list in the Chromium policy", goos: "windows", edit: func(f *fakeProbes) {
			f.browsers = []Browser{{ID: "edge", Name: "Edge", Installed: true, Where: `HKLM\SOFTWARE\Policies\Microsoft\Edge`, Policies: Policies{
				"LocalNetworkAccessAllowedForUrls": []string{"https://my.esr.nhs.uk"},
			}}}
		}, want: []want{{"browser-lna-edge", Warn, "LocalNetworkAccessAllowedForUrls does not cover https://[*.]spineservices.nhs.uk", `add "https://[*.]spineservices.nhs.uk" to the Edge policy LocalNetworkAccessAllowedForUrls`}}},
		{name: "origins allowed by both allow-lists", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["LocalNetworkAccessAllowedForUrls"] = []any{"https://my.esr.nhs.uk"}
			f.browsers[0].Policies["LoopbackNetworkAllowedForUrls"] = []any{"https://[*.]spineservices.nhs.uk"}
		}, want: []want{{"browser-lna-chrome", OK, "LoopbackNetworkAllowedForUrls and LocalNetworkAccessAllowedForUrls allow https://[*.]spineservices.nhs.uk, https://my.esr.nhs.uk", ""}}},
		{name: "loopback blocked for every site", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["LoopbackNetworkBlockedForUrls"] = []any{"*"}
		}, want: []want{{"browser-lna-chrome", Warn, `https://my.esr.nhs.uk (by "*" in LoopbackNetworkBlockedForUrls)`, `take "*" out of the Chrome policy LoopbackNetworkBlockedForUrls; restart`}}},
		{name: "local network blocked for one Spine site", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["LocalNetworkAccessBlockedForUrls"] = []any{"https://portal2.national.ncrs.nhs.uk", "https://x.spineservices.nhs.uk"}
		}, want: []want{{"browser-lna-chrome", Warn, `policy blocks local network access for https://[*.]spineservices.nhs.uk (by "https://x.spineservices.nhs.uk" in LocalNetworkAccessBlockedForUrls)`, `take "https://x.spineservices.nhs.uk" out of the Chrome policy LocalNetworkAccessBlockedForUrls`}}},
		{name: "local network block outranked by the loopback allow-list", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["LocalNetworkAccessBlockedForUrls"] = []any{"*"}
			f.browsers[0].Policies["LoopbackNetworkAllowedForUrls"] = []any{"https://my.esr.nhs.uk", "https://[*.]spineservices.nhs.uk"}
		}, want: []want{{"browser-lna-chrome", OK, "LoopbackNetworkAllowedForUrls allows", ""}}},
		{name: "localhost cookies blocked", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["CookiesBlockedForUrls"] = []any{"[*.]localhost"}
		}, want: []want{{"browser-cookies-chrome", Warn, `blocks cookies for localhost ("[*.]localhost")`, `add "[*.]localhost", "127.0.0.1" to the Chrome policy CookiesAllowedForUrls`}}},
		{name: "localhost cookies blocked but allowed back", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["DefaultCookiesSetting"] = float64(2)
			f.browsers[0].Policies["CookiesAllowedForUrls"] = []any{"[*.]localhost", "http://127.0.0.1"}
		}, want: []want{{"browser-cookies-chrome", OK, "CookiesAllowedForUrls allows localhost", ""}}},
		{name: "every cookie blocked", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["DefaultCookiesSetting"] = float64(2)
		}, want: []want{{"browser-cookies-chrome", Warn, "DefaultCookiesSetting blocks every cookie", "cardbridge needs no cookies"}}},
		{name: "third-party cookies blocked", edit: func(f *fakeProbes) {
			f.browsers[0].Policies["BlockThirdPartyCookies"] = true
		}, want: []want{{"browser-cookies-chrome", Info, "BlockThirdPartyCookies is on", "NHS Credential Management"}}},
		{name: "unreadable policies", edit: func(f *fakeProbes) {
			f.browsers[0].Policies = Policies{}
			f.browsers[0].Err = errors.New("open /etc/opt/chrome/policies/managed: permission denied")
		}, want: []want{
			{"browser-lna-chrome", Info, "cannot read its policies", "chrome://policy"},
			{"browser-cookies-chrome", Info, "cannot read its policies", "chrome://policy"},
		}},
		{name: "no browser", edit: func(f *fakeProbes) { f.browsers = nil }, want: []want{{"browsers", Info, "no Chrome, Chromium or Edge found", ""}}},
		{name: "no logs yet", edit: func(f *fakeProbes) { f.files = nil }, want: []want{
			{"agent-log", Info, agentLogDir + "/agent.log: not there (the agent has not run as this user yet", ""},
			{"portservice-log", Info, filepath.Join(stateDir, "portservice.log") + ": not there (the port service may have been started with --log", ""},
		}},
		{name: "port service with a state directory of its own", edit: func(f *fakeProbes) {
			withPS(f, func(vi *api.VersionInfo) {
				vi.DomainList.Source = "file:" + filepath.Join(root, "srv", "cardbridge", "DomainList.txt")
			})
			f.files[filepath.Join(root, "srv", "cardbridge", "portservice.log")] = fakeFile{size: 100, mod: now.Add(-time.Hour)}
		}, want: []want{{"portservice-log", OK, filepath.Join(root, "srv", "cardbridge", "portservice.log") + " (100 bytes, last written 2026-03-05 13:02 UTC, 1 hour ago)", ""}}},
		{name: "port service log closed to users", edit: func(f *fakeProbes) {
			f.files[filepath.Join(stateDir, "portservice.log")] = fakeFile{err: fs.ErrPermission}
		}, want: []want{{"portservice-log", Info, "may not look at it", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := healthy()
			c.edit(f)
			opt := options(f)
			if c.goos != "" {
				opt.GOOS = c.goos
			}
			r := Run(context.Background(), opt)
			for _, w := range c.want {
				got := find(t, r, w.id)
				if got.Status != w.status || !strings.Contains(got.Detail, w.detail) || !strings.Contains(got.Fix, w.fix) {
					t.Errorf("%s = %s %q\n  fix %q\nwant %s with %q\n  fix with %q", w.id, got.Status, got.Detail, got.Fix, w.status, w.detail, w.fix)
				}
			}
			for _, ch := range r.Checks {
				if (ch.Status == Warn || ch.Status == Fail) && ch.Fix == "" {
					t.Errorf("%s is %s without a fix: %q", ch.ID, ch.Status, ch.Detail)
				}
				if ch.Status == Fail && strings.HasPrefix(ch.ID, "browser") {
					t.Errorf("a browser hint failed: %+v", ch)
				}
			}
			if r.ExitCode() != c.exit || r.OK != (c.exit == 0) {
				t.Errorf("exit %d (ok %v), want %d; summary %q", r.ExitCode(), r.OK, c.exit, r.Summary.Text)
			}
		})
	}
}

// Everything hangs: the run still ends by its deadline, saying so.
func TestEverythingHangs(t *testing.T) {
	f := healthy()
	f.readersHang = true
	for k := range f.local {
		f.local[k] = reply{hang: true}
	}
	for _, p := range []int{44213, 45031, 46478, 48853, 43485} {
		f.local[key(p, "/api/versioninfo")] = reply{hang: true}
	}
	opt := options(f)
	opt.Timeout = 800 * time.Millisecond
	start := time.Now()
	r := Run(context.Background(), opt)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a %v timeout", d, opt.Timeout)
	}
	if c := find(t, r, "pcsc"); c.Status != Fail || !strings.Contains(c.Fix, "restart") {
		t.Errorf("pcsc = %+v", c)
	}
	if c := find(t, r, "portservice"); c.Status != Fail || !strings.Contains(c.Detail, "does not answer") {
		t.Errorf("portservice = %+v", c)
	}
	if c := find(t, r, "agent"); c.Status != Fail || !strings.Contains(c.Detail, "43485 but does not answer") {
		t.Errorf("agent = %+v", c)
	}
	if r.ExitCode() != 1 {
		t.Errorf("exit %d", r.ExitCode())
	}
}

func TestSummarize(t *testing.T) {
	mk := func(ss ...Status) []Check {
		var cs []Check
		for _, s := range ss {
			cs = append(cs, Check{Status: s})
		}
		return cs
	}
	for _, c := range []struct {
		checks []Check
		text   string
	}{
		{mk(OK, OK, Info), "all good: 2 checks ok"},
		{mk(OK), "all good: 1 check ok"},
		{mk(OK, Warn, Skip), "no problems, 1 warning"},
		{mk(Fail, Fail, Warn, OK), "2 problems, 1 warning"},
		{mk(Fail, Skip, Skip), "1 problem"},
		{mk(Fail, Warn, Warn), "1 problem, 2 warnings"},
	} {
		s := Summarize(c.checks)
		if s.Text != c.text || s.OK+s.Info+s.Skip+s.Warn+s.Fail != len(c.checks) {
			t.Errorf("Summarize = %+v, want %q", s, c.text)
		}
	}
}

func TestJSONShape(t *testing.T) {
	f := healthy()
	f.readers[0].CardPresent = false
	r := Run(context.Background(), options(f))
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"product", "version", "os", "arch", "user", "time", "checks", "summary", "ok"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, b)
		}
	}
	if m["ok"] != false || m["product"] != "cardbridge" {
		t.Errorf("ok %v product %v", m["ok"], m["product"])
	}
	sum := m["summary"].(map[string]any)
	for _, k := range []string{"ok", "info", "skip", "warn", "fail", "text"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary lacks %q: %v", k, sum)
		}
	}
	if sum["fail"] != float64(1) || sum["text"] != "1 problem" {
		t.Errorf("summary %v", sum)
	}
	checks := m["checks"].([]any)
	for _, c := range checks {
		cm := c.(map[string]any)
		if len(cm) != 5 {
			t.Errorf("check %v: want exactly id, name, status, detail, fix", cm)
		}
		for _, k := range []string{"id", "name", "status", "detail", "fix"} {
			if _, ok := cm[k].(string); !ok {
				t.Errorf("check %v: %q is not a string", cm, k)
			}
		}
		switch Status(cm["status"].(string)) {
		case OK, Info, Skip, Warn, Fail:
		default:
			t.Errorf("check %v: unknown status", cm)
		}
	}
	if _, err := time.Parse(time.RFC3339, m["time"].(string)); err != nil {
		t.Errorf("time %v: %v", m["time"], err)
	}
}

func TestWriteText(t *testing.T) {
	r := newReport(Options{GOOS: "linux", User: "alice (uid:1000)", Version: "1.2.0"}, now, []Check{
		{ID: "pcsc", Name: "PC/SC service", Status: OK, Detail: "running"},
		{ID: "card", Name: "card", Status: Fail, Detail: "no card in any reader", Fix: "insert your smartcard"},
		{ID: "agent-log", Name: "agent log", Status: Warn, Detail: "odd", Fix: "look"},
	})
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	want := []string{
		"cardbridge doctor: cardbridge 1.2.0 on linux/" + r.Arch + ", user alice (uid:1000), 2026-03-05 14:02:00 UTC",
		"",
		"  ok    PC/SC service  running",
		"  FAIL  card           no card in any reader",
		"                       fix: insert your smartcard",
		"  warn  agent log      odd",
		"                       fix: look",
		"",
		"1 problem, 1 warning: see the fix lines above.",
		"",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), strings.Join(want, "\n"))
	}
}
