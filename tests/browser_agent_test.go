//go:build linux && cgo

package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/tests/browser"
)

// pageScript is a page that uses the agent through cardbridge.js, loaded
// from the agent itself, and reports everything on the console as JSON.
const pageScript = `<!doctype html>
<html><head><meta charset="utf-8"><title>cardbridge test page</title></head>
<body>
<script src="http://127.0.0.1:%[1]d/cardbridge.js"></script>
<script>
function report(o) { console.log(JSON.stringify(o)); }
(async function () {
  if (typeof CardBridge === "undefined") { report({kind: "error", code: "NO_CLIENT"}); return; }
  let cb;
  try {
    cb = await CardBridge.connect({portServicePorts: [], standalonePort: %[1]d});
  } catch (e) {
    report({kind: "error", code: e.code, message: e.message});
    // Try the API directly too: a refused origin must get nothing.
    try { const r = await fetch("http://127.0.0.1:%[1]d/api/card"); report({kind: "leak", body: await r.text()}); }
    catch (e2) { report({kind: "fetch-failed", message: String(e2)}); }
    try {
      const ws = new WebSocket("ws://127.0.0.1:%[1]d/api/events");
      ws.onmessage = (m) => report({kind: "leak", body: m.data});
      ws.onerror = () => report({kind: "ws-failed"});
    } catch (e3) { report({kind: "ws-failed", message: String(e3)}); }
    return;
  }
  report({kind: "card", card: await cb.card()});
  cb.subscribe({
    onEvent: async (ev) => {
      report({kind: "event", event: ev, at: Date.now()});
      if (ev.type === "card-updated") { report({kind: "card", card: await cb.card()}); }
    },
    onStatus: (s) => report({kind: "status", status: s}),
  });
})();
</script>
</body></html>`

// pageLog is one JSON console line of the test page.
type pageLog struct {
	Kind string `json:"kind"`
	Code string `json:"code"`
	Body string `json:"body"`
	At   int64  `json:"at"`
	Card *struct {
		Present bool   `json:"present"`
		UUID    string `json:"uuid"`
	} `json:"card"`
	Event *api.Event `json:"event"`
}

func parsePageLog(text string) (pageLog, bool) {
	var l pageLog
	return l, json.Unmarshal([]byte(text), &l) == nil && l.Kind != ""
}

// waitPage waits for the page to log something match accepts.
func waitPage(t *testing.T, p *browser.Page, what string, match func(pageLog) bool) pageLog {
	t.Helper()
	var got pageLog
	_, err := p.WaitConsole(30*time.Second, func(text string) bool {
		l, ok := parsePageLog(text)
		if ok && match(l) {
			got = l
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("page never logged %s: %v", what, err)
	}
	return got
}

func isEvent(typ string) func(pageLog) bool {
	return func(l pageLog) bool { return l.Kind == "event" && l.Event != nil && l.Event.Type == typ }
}

func TestBrowserPageUsesAgent(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	a := startAgent(t)
	a.waitReaders(t, 2)
	c, _, _ := newCard(t, testCard{uuid: "555123456789"})
	insert(t, c, 0)

	ps := browser.NewPageServer(t, "my.esr.nhs.uk")
	if ps.Origin("my.esr.nhs.uk") != "https://my.esr.nhs.uk" {
		t.Skipf("the page server could not take port 443, so the page's origin (%s) is not the allow-listed one", ps.Origin("my.esr.nhs.uk"))
	}
	ps.HandleHTML("my.esr.nhs.uk", "/", fmt.Sprintf(pageScript, a.port))
	// A public site, as the real one is, with Local Network Access granted
	// as an admin's LocalNetworkAccessAllowedForUrls policy would.
	p := browser.OpenWith(t, ps.URL("my.esr.nhs.uk", "/"), browser.Options{Hosts: ps.Hosts(), Public: true, Grant: []string{"local-network-access"}})

	first := waitPage(t, p, "the card", func(l pageLog) bool { return l.Kind == "card" || l.Kind == "error" })
	if first.Kind != "card" || first.Card == nil || first.Card.UUID != "555123456789" {
		t.Fatalf("page read %+v, want the virtual card's UUID", first)
	}
	waitPage(t, p, "the snapshot", isEvent("snapshot"))

	removed := time.Now()
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	ev := waitPage(t, p, "card-removed", isEvent("card-removed"))
	if lag := time.UnixMilli(ev.At).Sub(removed); lag > time.Second {
		t.Errorf("the page saw card-removed %v after the card left, want within 1s", lag)
	} else {
		t.Logf("card-removed reached the page %v after the card left", lag)
	}

	// pcscd restarted while the page is connected.
	if err := bed.Kill(); err != nil {
		t.Fatal(err)
	}
	waitPage(t, p, "pcsc-unavailable", isEvent("pcsc-unavailable"))
	if err := bed.Start(); err != nil {
		t.Fatal(err)
	}
	waitPage(t, p, "pcsc-available", isEvent("pcsc-available"))
	if err := c.Insert("127.0.0.1:35963"); err != nil {
		t.Fatal(err)
	}
	waitPage(t, p, "card-inserted", isEvent("card-inserted"))
	again := waitPage(t, p, "the card after the restart", func(l pageLog) bool { return l.Kind == "card" && l.Card != nil && l.Card.Present })
	if again.Card.UUID != "555123456789" {
		t.Errorf("after the restart the page read %+v", again.Card)
	}
}

func TestBrowserForeignPageGetsNothing(t *testing.T) {
	needPCSCD(t)
	browser.Require(t)
	a := startAgent(t)
	c, _, _ := newCard(t, testCard{uuid: "555000000070"})
	insert(t, c, 0)
	ps := browser.NewPageServer(t, "evil.example")
	ps.HandleHTML("evil.example", "/", fmt.Sprintf(pageScript, a.port))
	p := browser.OpenWith(t, ps.URL("evil.example", "/"), browser.Options{Hosts: ps.Hosts(), Public: true, Grant: []string{"local-network-access"}})

	// The page learns that something answers on the agent's port but
	// will not let it read the answer (a no-cors request resolves with an
	// opaque response): ORIGIN_NOT_ALLOWED, and nothing more.
	l := waitPage(t, p, "a connection failure", func(l pageLog) bool { return l.Kind == "error" || l.Kind == "card" })
	if l.Kind != "error" || l.Code != "ORIGIN_NOT_ALLOWED" {
		t.Errorf("foreign page: %+v, want ORIGIN_NOT_ALLOWED", l)
	}
	waitPage(t, p, "a refused fetch", func(l pageLog) bool { return l.Kind == "fetch-failed" || l.Kind == "leak" })
	waitPage(t, p, "a refused WebSocket", func(l pageLog) bool { return l.Kind == "ws-failed" || l.Kind == "leak" })
	for _, line := range p.Lines() {
		if strings.Contains(line.Text, "555000000070") || strings.Contains(line.Text, `"kind":"leak"`) {
			t.Errorf("the foreign page saw: %s", line.Text)
		}
	}
}
