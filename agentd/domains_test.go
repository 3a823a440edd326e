package agentd

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
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/policy"
)

// watched is a domainSource for a test, its log, and how often it told
// onChange.
type watched struct {
	*domainSource
	logs *testutil.Buffer
	told atomic.Int32
}

func newWatched(t *testing.T, path string) *watched {
	t.Helper()
	w := &watched{logs: &testutil.Buffer{}}
	d, err := newDomainSource(path, zerolog.New(w.logs))
	if err != nil {
		t.Fatal(err)
	}
	d.every = 10 * time.Millisecond
	changed := func() { w.told.Add(1) }
	d.onChange.Store(&changed)
	w.domainSource = d
	return w
}

// Without a --domains file the built-in list is in force until the port
// service sends one, whose bad lines are skipped; each new list is told.
func TestDomainSourceBuiltinThenService(t *testing.T) {
	w := newWatched(t, "")
	builtin := domainlist.Builtin()
	if info := w.get(); info.Source != "builtin" || info.List.Version() != builtin.Version() || info.List.Len() != builtin.Len() {
		t.Errorf("in force: %s version %q, %d entries; want the built-in list", info.Source, info.List.Version(), info.List.Len())
	}
	w.fromService("# version: 3\nhttps://svc.example\nnot an origin\n")
	info := w.get()
	if info.Source != "portservice" || info.List.Version() != "3" || info.List.Len() != 1 || !info.List.Allows("https://svc.example") {
		t.Errorf("in force: %s version %q, %d entries; want the service's version 3 with its one good line", info.Source, info.List.Version(), info.List.Len())
	}
	if w.told.Load() != 1 {
		t.Errorf("onChange told %d times, want once", w.told.Load())
	}
	if !strings.Contains(w.logs.String(), `"line":3`) || strings.Contains(w.logs.String(), "not an origin") {
		t.Errorf("the bad line is not logged by number alone:\n%s", w.logs)
	}
}

// A --domains file is loaded at once and reloaded when it changes; the
// port service's lists are ignored; a file that cannot be loaded keeps the
// list in force until a good one comes back.
func TestDomainSourceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "DomainList.txt")
	// Each version is put in place whole, as deployment tools do: a file
	// written in place by a writer stalled for longer than settle (a busy
	// machine) would be loaded part way, by design.
	write := func(data []byte) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write([]byte("# version: 1\nhttps://a.example\n"))
	w := newWatched(t, path)
	if info := w.get(); info.Source != "file:"+path || info.List.Version() != "1" {
		t.Fatalf("in force: %s version %q; want the file's version 1", info.Source, info.List.Version())
	}

	w.fromService("# version: 99\nhttps://svc.example\n")
	if info := w.get(); info.List.Version() != "1" || w.told.Load() != 0 {
		t.Errorf("after the service's list: version %q, onChange told %d times; want the file's list kept, nothing told", info.List.Version(), w.told.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { w.watch(ctx); close(stopped) }()

	write([]byte("# version: 2\nhttps://a.example\nhttps://b.example\n"))
	waitVersion(t, w.domainSource, "2", w.logs)
	if w.told.Load() != 1 {
		t.Errorf("onChange told %d times after the reload, want once", w.told.Load())
	}

	write(bytes.Repeat([]byte("https://a.example\n"), maxDomainsFile/10)) // too large
	waitFor(t, w.logs, "keeping the DomainList in force", 10*time.Second)
	if info := w.get(); info.List.Version() != "2" || info.List.Len() != 2 || w.told.Load() != 1 {
		t.Errorf("after a file too large: version %q, %d entries, told %d times; want version 2 kept, nothing told", info.List.Version(), info.List.Len(), w.told.Load())
	}

	write([]byte("# version: 3\nhttps://c.example\n"))
	waitVersion(t, w.domainSource, "3", w.logs)
	cancel()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		t.Fatal("the watcher did not stop within 1 s of its context ending")
	}
}

// A --domains file that cannot be read stops the agent before it starts.
func TestDomainSourceMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.txt")
	if d, err := newDomainSource(path, zerolog.Nop()); err == nil || !strings.HasPrefix(err.Error(), "load --domains: read "+path+": ") {
		t.Errorf("newDomainSource(missing) = %v, %v; want an error naming the file", d, err)
	}
}

// waitVersion waits until d has the list of version v in force.
func waitVersion(t *testing.T, d *domainSource, v string, logs *testutil.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); d.get().List.Version() != v; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("version %q not in force within 10 s (%q is):\n%s", v, d.get().List.Version(), logs)
		}
	}
}

// waitFor waits until the log holds msg, failing the test after d.
func waitFor(t *testing.T, logs *testutil.Buffer, msg string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); !strings.Contains(logs.String(), msg); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged within %v:\n%s", msg, d, logs.String())
		}
	}
}

// A DomainList policy beats the port service's list, is followed while the
// agent runs, and when it goes the list underneath is back in force. A
// DomainListFile that cannot be read keeps the list in force.
func TestDomainSourcePolicy(t *testing.T) {
	w := newWatched(t, "")
	var current atomic.Pointer[policy.Set]
	current.Store(policy.Of("/etc/cardbridge/policy.json", nil))
	w.policies = &policy.Follower{Load: current.Load, Watch: policy.Poll, Log: zerolog.New(w.logs), Every: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.watchPolicy(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, ok func(localhttp.DomainInfo) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(w.get()); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: in force %s %v", what, w.get().Source, w.get().List.Entries())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	w.fromService("# version: 3\nhttps://svc.example\n")
	current.Store(policy.Of("/etc/cardbridge/policy.json", policy.Values{"DomainList": []any{"https://my.esr.nhs.uk"}}))
	waitFor("policy imposed", func(d localhttp.DomainInfo) bool {
		return d.Source == "policy:/etc/cardbridge/policy.json" && d.List.Allows("https://my.esr.nhs.uk") && !d.List.Allows("https://svc.example")
	})
	// The service's new list does not displace the policy's.
	w.fromService("# version: 4\nhttps://svc4.example\n")
	if d := w.get(); !strings.HasPrefix(d.Source, "policy:") {
		t.Errorf("the port service's list displaced the policy's: %s", d.Source)
	}
	current.Store(policy.Of("p", policy.Values{"DomainListFile": filepath.Join(t.TempDir(), "missing.txt")}))
	time.Sleep(50 * time.Millisecond)
	if d := w.get(); !d.List.Allows("https://my.esr.nhs.uk") {
		t.Errorf("an unreadable DomainListFile replaced the list in force: %s %v", d.Source, d.List.Entries())
	}
	if n := strings.Count(w.logs.String(), "keeping the DomainList in force"); n != 1 {
		t.Errorf("the unreadable file was logged %d times, want once:\n%s", n, w.logs)
	}
	current.Store(policy.Of("p", nil))
	waitFor("policy removed", func(d localhttp.DomainInfo) bool {
		return d.Source == "portservice" && d.List.Version() == "4"
	})
}
