package signalr_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/loopback"
	"github.com/cardbridge/cardbridge/signalr"
	"github.com/cardbridge/cardbridge/tests/browser"
)

// TestE2E runs signalr-no-jquery from npm in headless Chromium, on a page
// from https://my.esr.nhs.uk, against the Server behind the agent's Guard
// on loopback: connect, invoke signingHub.requestToSign, receive a client
// hub call, see hub errors, stay connected across polls and stop.
func TestE2E(t *testing.T) {
	browser.Require(t)
	for _, tc := range []struct {
		name, transport, want string
		subscribe             bool
	}{
		// As the brief's NHS pages do: no client hub methods, so
		// connectionData is [] and nothing comes by poll.
		{"longPolling", "longPolling", "longPolling", false},
		{"longPolling+subscribed", "longPolling", "longPolling", true},
		// No transport named: signalr-no-jquery tries webSockets anyway
		// (its inArray shim ignores TryWebSockets), is refused with 400,
		// then uses serverSentEvents.
		{"auto+subscribed", "auto", "serverSentEvents", true},
	} {
		t.Run(tc.name, func(t *testing.T) { runE2E(t, tc.transport, tc.want, tc.subscribe) })
	}
}

func runE2E(t *testing.T, transport, wantTransport string, subscribe bool) {
	const host = "my.esr.nhs.uk"
	ps := browser.NewPageServer(t, host)
	origin := ps.Origin(host)

	list, bad := domainlist.Parse([]byte(origin + "\n"))
	if len(bad) > 0 {
		t.Fatalf("DomainList %q: %v", origin, bad)
	}
	guard := loopback.NewGuard(loopback.GuardOptions{
		Domains: func() loopback.DomainInfo { return loopback.DomainInfo{List: list, Source: "test"} },
		Logger:  zerolog.Nop(),
	})

	var mu sync.Mutex
	var origins []string
	invoke := func(ctx context.Context, c *signalr.Conn, hub, method string, args []json.RawMessage) (any, error) {
		mu.Lock()
		origins = append(origins, c.Origin())
		mu.Unlock()
		switch {
		case hub == "signingHub" && strings.EqualFold(method, "requestToSign"):
			err := c.Send(hub, "progress", "signing for "+c.Origin())
			if err != nil && (subscribe || !errors.Is(err, signalr.ErrNotSubscribed)) {
				return nil, err
			}
			return map[string]any{"echo": args, "origin": c.Origin()}, nil
		case strings.EqualFold(method, "refuse"):
			return nil, &signalr.HubError{Message: "no card", Data: map[string]int{"status_code": 0x53494705}}
		}
		return nil, signalr.ErrUnknownMethod
	}
	srv := signalr.New(signalr.Options{
		Hubs:     []string{"signingHub"},
		Invoke:   invoke,
		PollWait: time.Second,
		Logger:   zerolog.Nop(),
	})
	mux := http.NewServeMux()
	mux.Handle("/signalr/", srv)

	lns, err := loopback.Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- loopback.Serve(ctx, guard.Wrap(mux), guard, 0, srv.Close, lns...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	port := lns[0].Addr().(*net.TCPAddr).Port

	page, err := os.ReadFile("testdata/e2e.html")
	if err != nil {
		t.Fatal(err)
	}
	const payload = "eyJhbGdvcml0aG0iOiJSUzI1NiIsInJlcXVlc3RUeXBlIjoxLCJ2ZXJzaW9uIjoxLCJmbGFncyI6MCwicGF5bG9hZHMiOlt7ImlkIjoiMSIsInBheWxvYWQiOiJhR1ZzYkc4PSJ9XX0="
	config, _ := json.Marshal(map[string]any{
		"agent":     "http://localhost:" + itoa(port),
		"transport": transport,
		"subscribe": subscribe,
		"payload":   payload,
		"pause":     2500, // more than two PollWaits
	})
	loader, err := os.ReadFile(filepath.Join(browser.Dir, "cjsload.js"))
	if err != nil {
		t.Fatal(err)
	}
	ps.Handle(host, "/cjsload.js", "text/javascript", loader)
	ps.HandleHTML(host, "/", strings.Replace(string(page), "/*CONFIG*/null", string(config), 1))

	p := browser.Open(t, ps.URL(host, "/"), ps.Hosts()...)
	// expect waits for a line, in any order with the others: a client hub
	// call delivered by a poll may arrive before or after the result of
	// the invocation that queued it.
	expect := func(want string) {
		t.Helper()
		l, err := p.WaitConsole(30*time.Second, func(s string) bool {
			return s == want || strings.HasPrefix(s, "page error") || strings.HasPrefix(s, "connection error")
		})
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if l.Text != want {
			t.Fatalf("page logged %q, want %q", l.Text, want)
		}
	}
	expect("connected " + wantTransport)
	expect(`result {"echo":["` + payload + `"],"origin":"` + origin + `"}`)
	if subscribe {
		expect("progress signing for " + origin)
	}
	expect("error Exception: 'noSuchMethod' method could not be resolved.")
	expect(`error HubException: no card {"status_code":1397311237}`)
	expect(`second {"echo":["second"],"origin":"` + origin + `"}`)
	expect("stopped")

	// stop() told the server with an abort request.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d connections after the page stopped", srv.Count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, o := range origins {
		if o != origin {
			t.Errorf("the hub saw Origin %q, want %q", o, origin)
		}
	}
	for _, l := range p.Lines() {
		if l.Kind == "pageerror" || l.Kind == "console" && (strings.HasPrefix(l.Text, "connection error") || !subscribe && strings.HasPrefix(l.Text, "progress")) {
			t.Errorf("page reported %s", l)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
