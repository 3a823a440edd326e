package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/policy"
	"github.com/cardbridge/cardbridge/portservice"
)

func TestLoadDomains(t *testing.T) {
	good := "# version: 3\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n"
	cases := []struct {
		name     string
		content  *string // nil: no file
		want     []string
		version  string
		rewrites bool
	}{
		{"missing", nil, []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"empty", new(""), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"clean", new(good), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "3", false},
		{"binary", new("\x00\xff\xfe\x01garbage\x00\n\x7f"), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}, "builtin-1", true},
		{"some bad lines", new("# version: 4\nhttps://a.example\nnot a url\n*.uk\nhttps://b.example:8443\n"), []string{"https://a.example", "https://b.example:8443"}, "4", true},
		{"truncated", new("# version: 5\nhttps://a.example\nhttps://b.exa"), []string{"https://a.example", "https://b.exa"}, "5", true},
		{"duplicates and CRLF", new("https://a.example\r\nhttps://a.example\r\n"), []string{"https://a.example"}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "DomainList.txt")
			if c.content != nil {
				if err := os.WriteFile(path, []byte(*c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var logs testutil.Buffer
			list := loadDomains(path, zerolog.New(&logs))
			var got []string
			for _, p := range list.Patterns() {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") || list.Version() != c.version {
				t.Errorf("list = %v version %q, want %v version %q", got, list.Version(), c.want, c.version)
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.rewrites {
				if !bytes.Equal(disk, list.Format()) {
					t.Errorf("file not rewritten clean:\n%q", disk)
				}
				if _, bad := domainlist.Parse(disk); len(bad) > 0 {
					t.Errorf("rewritten file still has bad lines: %v", bad)
				}
			} else if string(disk) != *c.content {
				t.Errorf("a clean file was rewritten: %q", disk)
			}
		})
	}
}

// A DomainList policy is put in force while the service runs: registered
// agents are sent it, /api/versioninfo names the policy, DomainList.txt is
// left alone; when the policy goes, DomainList.txt's list is back.
func TestDomainListPolicy(t *testing.T) {
	me, err := peercred.Current()
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[policy.Set]
	current.Store(policy.Of("/etc/cardbridge/policy.json", nil))
	var logs testutil.Buffer
	s, sock := runServiceWith(t, &logs, func(opt *Options) {
		opt.policies = func() *policy.Set { return current.Load() }
		opt.policyWatch = policy.Poll
		opt.policyEvery = 10 * time.Millisecond
	})
	file, err := os.ReadFile(s.domainsPath())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := portservice.Register(context.Background(), sock, me)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { reg.Close() }()
	if reg.Domains != string(file) {
		t.Fatalf("registered with %q, want DomainList.txt's %q", reg.Domains, file)
	}
	next := func(what string) portservice.Message {
		t.Helper()
		for {
			select {
			case m := <-reg.Updates:
				if m.Type == portservice.MsgDomainList {
					return m
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no DomainList sent to the agent", what)
			}
		}
	}

	current.Store(policy.Of("/etc/cardbridge/policy.json", policy.Values{"DomainList": []any{"https://policy.example", "not an origin"}}))
	m := next("policy set")
	list, _ := domainlist.Parse([]byte(m.DomainList))
	if !list.Allows("https://policy.example") || list.Allows("https://my.esr.nhs.uk") || !strings.HasPrefix(m.DomainListVersion, "policy-") {
		t.Errorf("sent %q (version %q), want the policy's one good entry", m.DomainList, m.DomainListVersion)
	}
	vi := s.VersionInfo()
	if vi.DomainList.Source != "policy:/etc/cardbridge/policy.json" || len(vi.DomainList.Entries) != 1 {
		t.Errorf("versioninfo DomainList %+v", vi.DomainList)
	}
	if again, err := os.ReadFile(s.domainsPath()); err != nil || !bytes.Equal(again, file) {
		t.Errorf("DomainList.txt changed under a policy: %q %v", again, err)
	}
	if !strings.Contains(logs.String(), `"entry":2`) || strings.Contains(logs.String(), "not an origin") {
		t.Errorf("the bad entry is not logged by number alone:\n%s", logs.String())
	}
	// The agent registering again (a restart) is given the policy's list.
	reg.Close()
	reg, err = portservice.Register(context.Background(), sock, me)
	for i := 0; err != nil && i < 100; i++ { // until the service has seen the old one go
		time.Sleep(20 * time.Millisecond)
		reg, err = portservice.Register(context.Background(), sock, me)
	}
	if err != nil {
		t.Fatal(err)
	}
	if reg.Domains != m.DomainList {
		t.Errorf("registered again with %q, want the policy's list", reg.Domains)
	}

	current.Store(policy.Of("/etc/cardbridge/policy.json", nil))
	if m := next("policy removed"); m.DomainList != string(file) {
		t.Errorf("sent %q after the policy went, want DomainList.txt's %q", m.DomainList, file)
	}
	if vi := s.VersionInfo(); !strings.HasPrefix(vi.DomainList.Source, "file:") {
		t.Errorf("versioninfo source %q after the policy went", vi.DomainList.Source)
	}
}
