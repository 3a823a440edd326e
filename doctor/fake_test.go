package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/pinprompt"
	"github.com/cardbridge/cardbridge/policy"
)

// reply is one canned answer of fakeProbes.
type reply struct {
	status int
	body   string
	err    error
	hang   bool // block until the caller gives up
}

func ok200(v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return reply{status: 200, body: string(b)}
}

// fakeFile is a file for Stat.
type fakeFile struct {
	size int64
	mod  time.Time
	err  error
	mode fs.FileMode // 0644 when 0
}

func (f fakeFile) Name() string { return "f" }
func (f fakeFile) Size() int64  { return f.size }
func (f fakeFile) Mode() fs.FileMode {
	if f.mode == 0 {
		return 0o644
	}
	return f.mode
}
func (f fakeFile) ModTime() time.Time { return f.mod }
func (f fakeFile) IsDir() bool        { return false }
func (f fakeFile) Sys() any           { return nil }

// fakeProbes is a machine made of canned answers. Anything not set up is
// absent: no port listens, no file exists.
type fakeProbes struct {
	readers     []pcsc.Reader
	readersErr  error
	readersHang bool
	cards       map[string]api.Card // by reader
	local       map[string]reply    // by "port path"
	remote      map[string]reply    // by URL
	browsers    []Browser
	files       map[string]fakeFile
	holders     map[int]string // PortHolder by port
	// pinPrompt and pinPromptErr answer PINPrompt; the zero Choice
	// stands for a prompt that works (the Windows dialog).
	pinPrompt      pinprompt.Choice
	pinPromptErr   error
	pinAsked       []string          // the configured paths PINPrompt was given
	contents       map[string]string // ReadFile by path
	userID         string            // UserID
	serviceManager string            // ServiceManager; systemd when ""
	policies       *policy.Set       // Policies; none when nil

	mu    sync.Mutex
	asked []string // every Local and Remote call, "port path" or URL
}

func (f *fakeProbes) Readers(ctx context.Context) ([]pcsc.Reader, error) {
	if f.readersHang {
		<-ctx.Done()
		return nil, fmt.Errorf("list readers: %w", ctx.Err())
	}
	return f.readers, f.readersErr
}

func (f *fakeProbes) ReadCard(ctx context.Context, r pcsc.Reader) api.Card {
	if c, ok := f.cards[r.Name]; ok {
		return c
	}
	return api.Card{Present: true, Reader: r.Name, Error: &api.Error{Code: api.CodeUnsupportedCard, Message: "no PIV application"}}
}

func (f *fakeProbes) answer(ctx context.Context, key string, r reply, found bool, notFound error) (int, []byte, error) {
	f.mu.Lock()
	f.asked = append(f.asked, key)
	f.mu.Unlock()
	if !found {
		return 0, nil, notFound
	}
	if r.hang {
		<-ctx.Done()
		return 0, nil, fmt.Errorf("%s: %w", key, ErrNoAnswer)
	}
	return r.status, []byte(r.body), r.err
}

func (f *fakeProbes) Local(ctx context.Context, port int, path string) (int, []byte, error) {
	key := fmt.Sprintf("%d %s", port, path)
	r, found := f.local[key]
	return f.answer(ctx, key, r, found, fmt.Errorf("port %d: %w", port, ErrNotListening))
}

func (f *fakeProbes) Remote(ctx context.Context, url string) (int, []byte, error) {
	r, found := f.remote[url]
	return f.answer(ctx, url, r, found, fmt.Errorf("dial %s: connection refused", url))
}

func (f *fakeProbes) Browsers() []Browser { return f.browsers }

func (f *fakeProbes) PortHolder(port int) string { return f.holders[port] }

func (f *fakeProbes) ReadFile(path string) ([]byte, error) {
	if c, ok := f.contents[path]; ok {
		return []byte(c), nil
	}
	return nil, fs.ErrNotExist
}

func (f *fakeProbes) UserID() string { return f.userID }

func (f *fakeProbes) Policies() *policy.Set {
	if f.policies == nil {
		return policy.Of("none", nil)
	}
	return f.policies
}

// ServiceManager is f.serviceManager, systemd when unset.
func (f *fakeProbes) ServiceManager() string {
	if f.serviceManager == "" {
		return "systemd"
	}
	return f.serviceManager
}

func (f *fakeProbes) PINPrompt(configured string) (pinprompt.Choice, error) {
	f.mu.Lock()
	f.pinAsked = append(f.pinAsked, configured)
	f.mu.Unlock()
	if f.pinPrompt.Kind == "" && f.pinPromptErr == nil {
		return pinprompt.Choice{Kind: pinprompt.KindWindowsDialog}, nil
	}
	return f.pinPrompt, f.pinPromptErr
}

func (f *fakeProbes) Stat(path string) (fs.FileInfo, error) {
	fi, ok := f.files[path]
	switch {
	case !ok:
		return nil, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
	case fi.err != nil:
		return nil, &fs.PathError{Op: "stat", Path: path, Err: fi.err}
	}
	return fi, nil
}

// The healthy machine's facts.
var (
	now         = time.Date(2026, 3, 5, 14, 2, 0, 0, time.UTC)
	readerA     = "Gemalto USB Smart Card Reader 00 00"
	readerB     = "Virtual PCD 00 01"
	trustedURL  = "https://cardbridge.example.nhs.uk"
	agentPort   = 55012
	psPort      = 43487
	stateDir    = filepath.Join(root, "var", "lib", "cardbridge")
	agentLogDir = "/home/alice/.local/state/cardbridge"
)

// root is the root directory of the platform running the tests, so that
// the fakes' paths are absolute there.
var root = map[bool]string{true: `C:\`, false: "/"}[runtime.GOOS == "windows"]

func psInfo() api.VersionInfo {
	updated := now.Add(-3 * 24 * time.Hour)
	checked := now.Add(-1 * time.Hour)
	return api.VersionInfo{
		Product: "cardbridge-portservice", Version: "1.2.0", API: 1, Port: psPort,
		PortService: api.PortServiceInfo{Connected: true},
		DomainList: api.DomainListInfo{Version: "2026-02", Source: "file:" + filepath.Join(stateDir, "DomainList.txt"),
			Entries: []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, Updated: &updated},
		TrustedURL: api.TrustedURLInfo{URL: trustedURL, LatestVersion: "1.2.0", Checked: &checked, LastSuccess: &checked, DomainListVersion: "2026-02"},
	}
}

func agentInfoAt(port int) api.VersionInfo {
	return api.VersionInfo{
		Product: "cardbridge", Version: "1.2.0", API: 1, Port: port,
		PortService: api.PortServiceInfo{Connected: true},
		DomainList:  api.DomainListInfo{Version: "2026-02", Source: "portservice", Entries: []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}},
	}
}

func key(port int, path string) string { return fmt.Sprintf("%d %s", port, path) }

// healthy is a machine where everything works.
func healthy() *fakeProbes {
	return &fakeProbes{
		readers: []pcsc.Reader{{Name: readerA, CardPresent: true, ATR: []byte{0x3b, 0x88}}, {Name: readerB}},
		cards: map[string]api.Card{readerA: {Present: true, Reader: readerA, ATR: "3B88", UUID: "555123456789",
			Subject: "CN=555123456789, OU=People, O=nhs", NotAfter: now.Add(365 * 24 * time.Hour).Format(time.RFC3339), Certificate: "MIIBsecretcertificatebody"}},
		local: map[string]reply{
			key(psPort, "/api/versioninfo"):    ok200(psInfo()),
			key(44213, "/api/versioninfo"):     ok200(psInfo()),
			key(45031, "/api/versioninfo"):     ok200(psInfo()),
			key(46478, "/api/versioninfo"):     ok200(psInfo()),
			key(48853, "/api/versioninfo"):     ok200(psInfo()),
			key(psPort, "/PRS/GetPortNumber"):  ok200(map[string]any{"portData": map[string]int{"portNumber": agentPort}}),
			key(agentPort, "/api/versioninfo"): ok200(agentInfoAt(agentPort)),
			key(agentPort, "/api/readers"):     ok200(api.Readers{Readers: []api.Reader{}}),
		},
		remote: map[string]reply{
			trustedURL + "/api/versioninfo": {status: 200, body: `{"latestVersion":"1.2.0","domainListVersion":"2026-02"}`},
			trustedURL + "/api/domainlist":  {status: 200, body: "# version: 2026-02\nhttps://my.esr.nhs.uk\n"},
		},
		browsers: []Browser{{ID: "chrome", Name: "Chrome", Installed: true, Where: "/etc/opt/chrome/policies/managed", Policies: Policies{
			"LocalNetworkAccessAllowedForUrls": []any{"https://my.esr.nhs.uk", "https://[*.]spineservices.nhs.uk"},
		}}},
		files: map[string]fakeFile{
			agentLogDir + "/agent.log":                 {size: 12 << 10, mod: now.Add(-2 * time.Minute)},
			filepath.Join(stateDir, "portservice.log"): {size: 3 << 20, mod: now.Add(-5 * time.Minute)},
		},
	}
}

// options runs doctor on f as Linux would.
func options(f *fakeProbes) Options {
	return Options{Probes: f, GOOS: "linux", Now: func() time.Time { return now }, AgentLog: agentLogDir + "/agent.log", User: "alice (uid:1000)", Version: "1.2.0"}
}
