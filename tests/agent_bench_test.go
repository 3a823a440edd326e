//go:build linux && cgo

package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/cardbridge/cardbridge/httpapi"
	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/tests/testbed"
)

// wrkRun runs wrk against url, served by the process pid, and returns
// requests per second and the server's CPU time per request. wrk runs on
// the CPUs cpus names (taskset's list form), or anywhere when it is "".
func wrkRun(b *testing.B, url string, pid int, cpus string) (rate float64, cpuPerRequest time.Duration) {
	b.Helper()
	before, err := sampleProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	// As a page asks: with its Origin, which the agent checks and answers
	// with CORS headers.
	args := []string{"wrk", "-t1", "-c32", "-d1s", "-H", "Origin: https://my.esr.nhs.uk", url}
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	after, err := sampleProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	n := regexp.MustCompile(`([0-9]+) requests in`).FindSubmatch(out)
	if m == nil || n == nil {
		b.Fatalf("no rate in wrk's output:\n%s", out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) {
		b.Fatalf("wrk saw errors:\n%s", out)
	}
	rate, _ = strconv.ParseFloat(string(m[1]), 64)
	requests, _ := strconv.Atoi(string(n[1]))
	return rate, (after.cpu - before.cpu) / time.Duration(max(requests, 1))
}

// BenchmarkCardRequests compares GET /api/card with keep-alive on the
// agent (a virtual card inserted, everything behind the guard) against a
// bare net/http handler serving the same bytes (status, headers and body),
// in the same run, with wrk as the client. Every server runs as the agent
// is deployed, on one processor (agentRuntimeEnv), pinned to one CPU, and
// wrk to another (servingCPUs); the servers take turns. Where wrk shared
// the servers' cores, its work there slowed both servers alike and hid
// part of what the agent does on top: the ratio read about 0.04 higher.
// The host's speed drifts between rounds, by a third at times; each
// round's agent and reference runs are a second apart, and the median of
// the 21 rounds' ratios is taken. Target: at least 0.95 of the
// reference's rate. It also reports the ratio to a bare handler that
// sends only the body and a Content-Type, which is what the agent's
// security and CORS headers cost on top.
func BenchmarkCardRequests(b *testing.B) {
	needPCSCD(b)
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	serverCPU, clientCPU, pinned := servingCPUs()
	if !pinned {
		b.Log("fewer than two CPUs (or no taskset): wrk and the servers share the CPUs, and the ratio swings between rounds")
	}
	pin := func(pid int) {
		if !pinned {
			return
		}
		// -a: every thread the process has; threads it starts later
		// inherit the mask.
		if out, err := exec.Command("taskset", "-apc", serverCPU, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			b.Fatalf("taskset: %v\n%s", err, out)
		}
	}
	a := startAgentEnv(b, agentRuntimeEnv)
	pin(a.cmd.Process.Pid)
	c, _, _ := newCard(b, testCard{uuid: "555123456789"})
	insert(b, c, 0)
	resp, body := askAsWrk(b, a.base+"/api/card")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("555123456789")) {
		b.Fatalf("agent answers %d %s", resp.StatusCode, body)
	}
	dir := b.TempDir()
	bodyFile, headerFile := filepath.Join(dir, "card.json"), filepath.Join(dir, "headers.txt")
	var headers bytes.Buffer
	if err := resp.Header.Write(&headers); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(headerFile, headers.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	startRef := func(args ...string) (url string, pid int) {
		port := testutil.FreePort(b)
		cmd := exec.Command(filepath.Join(binDir, "refserver"), append([]string{"-listen", fmt.Sprintf("127.0.0.1:%d", port), "-body", bodyFile}, args...)...)
		cmd.Env = append(os.Environ(), agentRuntimeEnv...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pin(cmd.Process.Pid)
		url = fmt.Sprintf("http://127.0.0.1:%d/api/card", port)
		for i := 0; ; i++ {
			if resp, err := http.Get(url); err == nil {
				resp.Body.Close()
				break
			}
			if i > 200 {
				b.Fatal("reference server did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
		return url, cmd.Process.Pid
	}
	refURL, refPID := startRef("-headers", headerFile)
	bareURL, barePID := startRef()
	dump := func(url string) []byte {
		resp, body := askAsWrk(b, url)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		raw, err := httputil.DumpResponse(resp, true)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	if ours, theirs := dump(a.base+"/api/card"), dump(refURL); !bytes.Equal(ours, theirs) {
		b.Fatalf("the reference does not send the agent's bytes; the agent:\n%s\nthe reference:\n%s", ours, theirs)
	}
	var agentRates, refRates, rateRatios, cpuRatios, bareRatios []float64
	var agentCPU, refCPU []time.Duration
	b.ResetTimer()
	// Alternate in short runs, so that drift on the host hits each
	// round's runs alike.
	for range 21 {
		ar, ac := wrkRun(b, a.base+"/api/card", a.cmd.Process.Pid, clientCPU)
		rr, rc := wrkRun(b, refURL, refPID, clientCPU)
		br, _ := wrkRun(b, bareURL, barePID, clientCPU)
		agentRates, agentCPU = append(agentRates, ar), append(agentCPU, ac)
		refRates, refCPU = append(refRates, rr), append(refCPU, rc)
		rateRatios = append(rateRatios, ar/rr)
		cpuRatios = append(cpuRatios, float64(rc)/float64(max(ac, 1)))
		bareRatios = append(bareRatios, ar/br)
	}
	b.StopTimer()
	// One line each, in round order (go test shows a benchmark's first
	// ten log lines only).
	list := func(v []float64, format string) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmt.Sprintf(format, x)
		}
		return strings.Join(s, " ")
	}
	us := func(v []time.Duration) []float64 {
		f := make([]float64, len(v))
		for i, d := range v {
			f[i] = float64(d) / 1e3
		}
		return f
	}
	b.Logf("ratio by round: %s", list(rateRatios, "%.3f"))
	b.Logf("CPU ratio by round: %s", list(cpuRatios, "%.3f"))
	b.Logf("agent µs of CPU per request by round: %s", list(us(agentCPU), "%.2f"))
	b.Logf("reference µs of CPU per request by round: %s", list(us(refCPU), "%.2f"))
	mid := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(mid(agentRates), "agent-req/s")
	b.ReportMetric(mid(refRates), "reference-req/s")
	b.ReportMetric(mid(rateRatios), "ratio")
	b.ReportMetric(mid(bareRatios), "body-only-ratio")
	// The server's CPU per request: what the rate costs.
	b.ReportMetric(float64(median(agentCPU))/float64(time.Microsecond), "agent-cpu-us/req")
	b.ReportMetric(float64(median(refCPU))/float64(time.Microsecond), "reference-cpu-us/req")
	b.ReportMetric(mid(cpuRatios), "cpu-ratio")
	b.ReportMetric(map[bool]float64{true: 1}[pinned], "pinned")
}

// servingCPUs picks two of the CPUs this process may run on, in taskset's
// form: one for a server being measured, one for its client. pinned is
// false where there are fewer than two, or no taskset to pin with.
func servingCPUs() (server, client string, pinned bool) {
	if _, err := exec.LookPath("taskset"); err != nil {
		return "", "", false
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "", "", false
	}
	var cpus []string
	for i := 0; i < 1024 && len(cpus) < 2; i++ { // CPU_SETSIZE
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	if len(cpus) < 2 {
		return "", "", false
	}
	return cpus[0], cpus[1], true
}

// askAsWrk asks GET url as wrk does in wrkRun (with a page's Origin) and
// returns the answer, without the Date header (each server writes its
// own), and its body.
func askAsWrk(b *testing.B, url string) (*http.Response, []byte) {
	b.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Origin", "https://my.esr.nhs.uk")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	resp.Header.Del("Date")
	return resp, body
}

// BenchmarkInsertToWebSocket measures, for each virtual card insertion, the
// time until a WebSocket client of the agent process receives card-inserted,
// and in the same run the time until a bare GetStatusChange loop wakes.
// Target: the agent's median within 5 ms of the reference's.
func BenchmarkInsertToWebSocket(b *testing.B) {
	needPCSCD(b)
	a := startAgent(b)
	a.waitReaders(b, 2)
	ref := referenceWatcher(b, reader0)
	card, _, _ := newCard(b, testCard{uuid: "555000000098"})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", a.port), http.Header{"Origin": {"https://my.esr.nhs.uk"}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	nextWS(b, conn, "snapshot", "")
	var ours, theirs []time.Duration
	b.ResetTimer()
	for range b.N {
		waitPresent(b, reader0, false)
		t0 := time.Now()
		if err := card.Insert(testbed.DefaultSlot.Addr(0)); err != nil {
			b.Fatal(err)
		}
		nextWS(b, conn, "card-inserted", reader0)
		t1 := time.Now()
		var t2 time.Time
		select {
		case t2 = <-ref:
		case <-time.After(10 * time.Second):
			b.Fatal("reference watcher saw no insertion")
		}
		ours, theirs = append(ours, t1.Sub(t0)), append(theirs, t2.Sub(t0))
		nextWS(b, conn, "card-updated", reader0)
		if err := card.Remove(); err != nil {
			b.Fatal(err)
		}
		nextWS(b, conn, "card-removed", reader0)
	}
	b.StopTimer()
	diffs := make([]time.Duration, len(ours))
	for i := range ours {
		diffs[i] = ours[i] - theirs[i]
	}
	b.ReportMetric(ms(median(ours)), "websocket-median-ms")
	b.ReportMetric(ms(median(theirs)), "reference-median-ms")
	b.ReportMetric(ms(median(ours)-median(theirs)), "median-gap-ms")
	b.ReportMetric(ms(median(diffs)), "per-insertion-gap-median-ms")
	b.ReportMetric(ms(slices.Max(diffs)), "per-insertion-gap-max-ms")
}

// procStatus reads a field (in kB) of /proc/PID/status.
func procStatusKB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func fdCount(b *testing.B, pid int) int {
	b.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		b.Fatal(err)
	}
	return len(ents)
}

func (a *agentProc) stats(b *testing.B) httpapi.Stats {
	b.Helper()
	_, body := a.get(b, "/debug/stats", "")
	var s httpapi.Stats
	if err := json.Unmarshal(body, &s); err != nil {
		b.Fatalf("stats %s: %v", body, err)
	}
	return s
}

// BenchmarkAgentMemory reports the agent process's resident memory idle and
// with 1,000 WebSocket clients, and checks that goroutines and file
// descriptors return to the idle count when they leave. Targets: 15 MB
// idle, 40 MB with 1,000 clients.
func BenchmarkAgentMemory(b *testing.B) {
	needPCSCD(b)
	a := startAgent(b)
	a.waitReaders(b, 2)
	c, _, _ := newCard(b, testCard{uuid: "555000000097"})
	insert(b, c, 0)
	a.get(b, "/api/card", "") // identity read and cached
	pid := a.cmd.Process.Pid
	settle := func() { time.Sleep(500 * time.Millisecond) }
	settle()
	idleRSS := procStatusKB(b, pid, "VmRSS")
	idleGo, idleFD := a.stats(b).Goroutines, fdCount(b, pid)

	const clients = 1000
	conns := make([]*websocket.Conn, 0, clients)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 512, WriteBufferSize: 512}
	b.ResetTimer()
	for range clients {
		conn, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/api/events", a.port), http.Header{"Origin": {"https://my.esr.nhs.uk"}})
		if err != nil {
			b.Fatalf("client %d: %v", len(conns), err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := conn.ReadMessage(); err != nil { // the snapshot
			b.Fatal(err)
		}
		conns = append(conns, conn)
	}
	// One event to all of them, so every write path has been used.
	if err := c.Remove(); err != nil {
		b.Fatal(err)
	}
	for _, conn := range conns {
		if _, _, err := conn.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	settle()
	loadedRSS := procStatusKB(b, pid, "VmRSS")
	st := a.stats(b)
	if st.EventStreams != clients {
		b.Errorf("%d event streams open, want %d", st.EventStreams, clients)
	}
	loadedGo, loadedFD := st.Goroutines, fdCount(b, pid)
	for _, conn := range conns {
		conn.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	var afterGo, afterFD int
	for {
		afterGo, afterFD = a.stats(b).Goroutines, fdCount(b, pid)
		if (afterGo <= idleGo && afterFD <= idleFD) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	if afterGo > idleGo || afterFD > idleFD {
		b.Errorf("after the clients left: %d goroutines (idle %d), %d fds (idle %d)", afterGo, idleGo, afterFD, idleFD)
	}
	b.ReportMetric(float64(st.HeapBytes)/(1<<20), "1000ws-heap-MB")
	b.ReportMetric(float64(st.SysBytes)/(1<<20), "1000ws-gosys-MB")
	b.ReportMetric(idleRSS/1024, "idle-rss-MB")
	b.ReportMetric(loadedRSS/1024, "1000ws-rss-MB")
	b.ReportMetric(procStatusKB(b, pid, "VmHWM")/1024, "peak-rss-MB")
	b.ReportMetric(float64(idleGo), "idle-goroutines")
	b.ReportMetric(float64(loadedGo), "1000ws-goroutines")
	b.ReportMetric(float64(afterGo), "after-goroutines")
	b.ReportMetric(float64(idleFD), "idle-fds")
	b.ReportMetric(float64(loadedFD), "1000ws-fds")
	b.ReportMetric(float64(afterFD), "after-fds")
}

// BenchmarkAgentColdStart measures exec to the first answer on
// /api/versioninfo: the agent standalone (--listen), and registered with a
// port service (it must register, be given its port and bind it first),
// against refserver, a bare net/http program started and asked the same
// way. Target (issue: the user logs in and a page asks at once): 50 ms
// median for both.
func BenchmarkAgentColdStart(b *testing.B) {
	needPCSCD(b) // the agent opens PC/SC as it starts, as at a real login
	const runs = 20
	dir := testutil.SharedTempDir(b)
	bodyFile := filepath.Join(dir, "body.json")
	if err := os.WriteFile(bodyFile, []byte(`{"present":false}`), 0o644); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	// firstAnswer starts cmd, asks url until it answers 200, and stops
	// cmd again; it returns the time from exec to that answer.
	firstAnswer := func(cmd *exec.Cmd, url string) time.Duration {
		cmd.Env = append(os.Environ(), agentRuntimeEnv...) // as deployed, for both
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		defer terminate(cmd, done)
		for {
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return time.Since(start)
				}
			}
			select {
			case <-done:
				b.Fatalf("%s exited before answering %s", cmd.Path, url)
			default:
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("%s did not answer %s within 10 s", cmd.Path, url)
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	pinentry := filepath.Join(binDir, "fakepinentry")
	var ref, standalone, registered []time.Duration
	for range runs {
		port := testutil.FreePort(b)
		ref = append(ref, firstAnswer(exec.Command(filepath.Join(binDir, "refserver"), "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-body", bodyFile),
			fmt.Sprintf("http://127.0.0.1:%d/api/card", port)))
		port = testutil.FreePort(b)
		standalone = append(standalone, firstAnswer(exec.Command(filepath.Join(binDir, "cardbridge"), "agent", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--log", filepath.Join(dir, "standalone.log"), "--pinentry", pinentry), fmt.Sprintf("http://127.0.0.1:%d/api/versioninfo", port)))
	}

	ps := startBenchPortService(b, binDir)
	agent := func() *exec.Cmd {
		return exec.Command(filepath.Join(binDir, "cardbridge"), "agent", "--portservice", ps.socket,
			"--log", filepath.Join(dir, "registered.log"), "--pinentry", pinentry)
	}
	// The user's port is the same at every start (PortStore.txt keeps it):
	// learn it once.
	port := 0
	first := agent()
	first.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := first.Start(); err != nil {
		b.Fatal(err)
	}
	firstDone := make(chan struct{})
	go func() { _ = first.Wait(); close(firstDone) }()
	for deadline := time.Now().Add(10 * time.Second); port == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the agent did not register within 10 s; port service log:\n%s", ps.log())
		}
		data, _ := os.ReadFile(filepath.Join(ps.dir, "PortStore.txt"))
		for line := range strings.Lines(string(data)) {
			if f := strings.Split(line, "\t"); len(f) >= 2 && f[0] == "uid:0" {
				port, _ = strconv.Atoi(f[1])
			}
		}
	}
	terminate(first, firstDone)
	for range runs {
		registered = append(registered, firstAnswer(agent(), fmt.Sprintf("http://127.0.0.1:%d/api/versioninfo", port)))
	}

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(median(ref)), "reference-median-ms")
	b.ReportMetric(ms(median(standalone)), "standalone-median-ms")
	b.ReportMetric(ms(percentile(standalone, 0.9)), "standalone-p90-ms")
	b.ReportMetric(ms(median(registered)), "registered-median-ms")
	b.ReportMetric(ms(percentile(registered, 0.9)), "registered-p90-ms")
	b.ReportMetric(50, "target-ms")
	b.ReportMetric(0, "ns/op")
}
