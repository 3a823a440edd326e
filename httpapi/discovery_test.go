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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
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

// connect runs cardbridge.js's connect in Node.js with these ports and
// returns what it printed: "port N" or "error CODE MESSAGE".
func connect(t *testing.T, servicePorts []int, standalone int) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no Node.js:", err)
	}
	js, _ := filepath.Abs("cardbridge.js")
	script := fmt.Sprintf(`
const CardBridge = require(%q);
CardBridge.connect({ portServicePorts: %s, standalonePort: %d, timeoutMs: 2000 })
  .then((c) => console.log("port " + c.port), (e) => console.log("error " + e.code + " " + e.message));
`, js, strings.ReplaceAll(fmt.Sprint(servicePorts), " ", ","), standalone)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
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
