package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve answers every request with body (JSON) until the test ends, counts
// the requests, and returns the port.
func serve(t *testing.T, body string, hits *atomic.Int32) int {
	t.Helper()
	return serveStatus(t, http.StatusOK, body, hits)
}

// serveStatus is serve with another HTTP status.
func serveStatus(t *testing.T, status int, body string, hits *atomic.Int32) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// silent is a loopback port that takes connections and never answers.
func silent(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// runNode runs script in Node.js with cardbridge.js loaded as CardBridge
// and returns what it printed.
func runNode(t *testing.T, script string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no Node.js:", err)
	}
	js, _ := filepath.Abs("cardbridge.js")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "-e", fmt.Sprintf("const CardBridge = require(%q);\n", js)+script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// connectJS is JavaScript that connects with these ports and prints
// "port N" or "error CODE MESSAGE".
func connectJS(servicePorts []int, standalone int) string {
	return fmt.Sprintf(`await CardBridge.connect({ portServicePorts: %s, standalonePort: %d, timeoutMs: 2000 })
  .then((c) => console.log("port " + c.port), (e) => console.log("error " + e.code + " " + e.message));
`, strings.ReplaceAll(fmt.Sprint(servicePorts), " ", ","), standalone)
}

// connect runs cardbridge.js's connect in Node.js with these ports and
// returns what it printed: "port N" or "error CODE MESSAGE".
func connect(t *testing.T, servicePorts []int, standalone int) string {
	t.Helper()
	return runNode(t, "(async () => {\n"+connectJS(servicePorts, standalone)+"})();")
}

// sessionStorageJS stands in for a browser tab's sessionStorage.
const sessionStorageJS = `const store = new Map();
globalThis.sessionStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => { store.set(k, String(v)); },
  removeItem: (k) => { store.delete(k); },
};
`

// TestDiscoveryRemembersThePort: a second connect in the same tab asks the
// port that worked first and nothing else: the standalone agent once, or
// the port service that answered; a remembered port that stopped
// answering is forgotten and discovery starts again.
func TestDiscoveryRemembersThePort(t *testing.T) {
	const agentInfo = `{"product":"cardbridge","api":1}`
	var agentHits, otherHits atomic.Int32
	standalone := serve(t, agentInfo, &agentHits)
	// Some other program's web server on the first port service port.
	empty := serveStatus(t, http.StatusNotFound, "not found", &otherHits)

	got := runNode(t, sessionStorageJS+"(async () => {\n"+connectJS([]int{empty, closedPort(t)}, standalone)+
		"console.log(\"stored \" + sessionStorage.getItem(\"cardbridge.port\"));\n"+
		"console.log(\"mark\");\n"+connectJS([]int{empty, closedPort(t)}, standalone)+"})();")
	first, second, ok := strings.Cut(got, "mark")
	if !ok {
		t.Fatalf("node printed %q", got)
	}
	want := fmt.Sprintf("port %d", standalone)
	if !strings.Contains(first, want) || !strings.Contains(first, fmt.Sprintf(`stored {"standalone":%d}`, standalone)) || strings.TrimSpace(second) != want {
		t.Errorf("two connects printed %q", got)
	}
	if n := agentHits.Load(); n != 2 {
		t.Errorf("the standalone agent was asked %d times by two connects, want 2 (one each)", n)
	}
	if n := otherHits.Load(); n != 1 {
		t.Errorf("the first port service port was asked %d times by two connects, want 1: the second connect must go to the remembered port", n)
	}

	// Through the port service: the second connect asks only the port
	// service port that answered, then the agent.
	var psHits, firstHits atomic.Int32
	agentHits.Store(0)
	ps := serve(t, `{"portData":{"portNumber":`+fmt.Sprint(standalone)+`}}`, &psHits)
	firstPS := serveStatus(t, http.StatusNotFound, "not found", &firstHits)
	got = runNode(t, sessionStorageJS+"(async () => {\n"+connectJS([]int{firstPS, ps}, closedPort(t))+
		"console.log(\"stored \" + sessionStorage.getItem(\"cardbridge.port\"));\n"+connectJS([]int{firstPS, ps}, closedPort(t))+"})();")
	if strings.Count(got, want) != 2 || !strings.Contains(got, fmt.Sprintf(`stored {"portService":%d}`, ps)) {
		t.Errorf("two connects through the port service printed %q", got)
	}
	if firstHits.Load() != 1 || psHits.Load() != 2 || agentHits.Load() != 2 {
		t.Errorf("asked: first port service port %d, the answering one %d, the agent %d times; want 1, 2, 2", firstHits.Load(), psHits.Load(), agentHits.Load())
	}

	// A remembered port that no longer answers: forgotten, and the
	// port service's answer is found again.
	gone := closedPort(t)
	got = runNode(t, sessionStorageJS+fmt.Sprintf("sessionStorage.setItem(\"cardbridge.port\", '{\"standalone\":%d}');\n", gone)+
		"(async () => {\n"+connectJS([]int{ps}, gone)+"console.log(\"stored \" + sessionStorage.getItem(\"cardbridge.port\"));\n})();")
	if !strings.Contains(got, want) || !strings.Contains(got, fmt.Sprintf(`stored {"portService":%d}`, ps)) {
		t.Errorf("with a stale remembered port: %q", got)
	}
}

// TestDiscoveryWithoutStorage: a sessionStorage that throws (storage
// disabled, a sandboxed frame) costs only the shortcut.
func TestDiscoveryWithoutStorage(t *testing.T) {
	var hits atomic.Int32
	standalone := serve(t, `{"product":"cardbridge","api":1}`, &hits)
	got := runNode(t, `Object.defineProperty(globalThis, "sessionStorage", { get() { throw new Error("SecurityError: storage disabled"); } });
(async () => {
`+connectJS(nil, standalone)+connectJS(nil, standalone)+"})();")
	if want := fmt.Sprintf("port %d\nport %d", standalone, standalone); got != want {
		t.Errorf("without storage: %q, want %q", got, want)
	}
}

// TestClientErrors: every failure is a CardBridgeError with a code: the
// agent's code and HTTP status, TIMEOUT for a port that takes the
// connection but never answers, NOT_RUNNING when nothing listens.
func TestClientErrors(t *testing.T) {
	var hits atomic.Int32
	noCard := serveStatus(t, http.StatusNotFound, `{"error":{"code":"NO_CARD","message":"no card in reader"}}`, &hits)
	quiet := silent(t)
	got := runNode(t, fmt.Sprintf(`(async () => {
  const show = (what, e) => console.log(what + " " + (e instanceof CardBridge.CardBridgeError) + " " + e.name + " " + e.code + " " + e.status);
  await new CardBridge.Client(%d).sign("MIIB", "AAAA", "SHA-256").then(() => console.log("sign answered"), (e) => show("sign", e));
  await CardBridge.connect({ portServicePorts: [], standalonePort: %d, timeoutMs: 300 }).then(() => console.log("connect answered"), (e) => show("timeout", e));
  await CardBridge.connect({ portServicePorts: [%d], standalonePort: %d, timeoutMs: 300 }).then(() => console.log("connect answered"), (e) => show("closed", e));
})();`, noCard, quiet, closedPort(t), closedPort(t)))
	want := "sign true CardBridgeError NO_CARD 404\ntimeout true CardBridgeError TIMEOUT undefined\nclosed true CardBridgeError NOT_RUNNING undefined"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestDiscoveryTrustsThePortService: once a port service answers, its
// answer is final. PR30007 (no agent for this user) is NOT_RUNNING, and the
// standalone port, where any local user could listen, is never asked. Only
// when no port service answers at all is the standalone port tried.
func TestDiscoveryTrustsThePortService(t *testing.T) {
	var psHits, standaloneHits atomic.Int32
	const agentInfo = `{"product":"cardbridge","api":1}`
	standalone := serve(t, agentInfo, &standaloneHits)
	noAgent := serve(t, `{"faultException":{"code":"PR30007","message":"Unable to find CM process for user"},"FaultException":{"Code":"PR30007","Message":"Unable to find CM process for user"}}`, &psHits)

	got := connect(t, []int{closedPort(t), noAgent, closedPort(t)}, standalone)
	if !strings.HasPrefix(got, "error NOT_RUNNING") || !strings.Contains(got, "PR30007") {
		t.Errorf("with the port service answering PR30007: %q, want NOT_RUNNING naming PR30007", got)
	}
	if psHits.Load() != 1 || standaloneHits.Load() != 0 {
		t.Errorf("port service asked %d times, standalone port %d times; want 1 and 0", psHits.Load(), standaloneHits.Load())
	}

	withAgent := serve(t, `{"portData":{"portNumber":`+fmt.Sprint(standalone)+`}}`, &psHits)
	if got := connect(t, []int{withAgent}, closedPort(t)); got != fmt.Sprintf("port %d", standalone) {
		t.Errorf("with the port service naming the agent: %q", got)
	}

	standaloneHits.Store(0)
	if got := connect(t, []int{closedPort(t), closedPort(t)}, standalone); got != fmt.Sprintf("port %d", standalone) || standaloneHits.Load() != 1 {
		t.Errorf("without a port service: %q after %d standalone requests; want the standalone port", got, standaloneHits.Load())
	}
}
