//go:build linux && cgo

package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/portservice"
)

// portService is a cardbridge-portservice process run by a test.
type portService struct {
	dir, socket string
	port        int
	lo, hi      int
	extra       []string // more flags for run
	cmd         *exec.Cmd
	done        chan struct{}
}

// startPortService runs the port service as root with its state in dir.
func startPortService(t *testing.T, dir string, port, lo, hi int) *portService {
	t.Helper()
	// The socket sits beside the state directory, which the service keeps
	// private to itself.
	ps := &portService{dir: dir, socket: filepath.Join(filepath.Dir(dir), "portservice.sock"), port: port, lo: lo, hi: hi}
	ps.start(t)
	t.Cleanup(func() { ps.stop(t) })
	return ps
}

func (ps *portService) start(t *testing.T) {
	t.Helper()
	args := []string{"run", "--state-dir", ps.dir, "--socket", ps.socket, "--ports", strconv.Itoa(ps.port),
		"--range", fmt.Sprintf("%d-%d", ps.lo, ps.hi), "--log-level", "debug"}
	ps.cmd = exec.Command(filepath.Join(binDir, "cardbridge-portservice"), append(args, ps.extra...)...)
	ps.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ps.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ps.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(ps.cmd, ps.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ps.socket); err == nil {
			if out, err := exec.Command("curl", "-sf", fmt.Sprintf("http://127.0.0.1:%d/PRS/ConnectPRService", ps.port)).Output(); err == nil && strings.Contains(string(out), `"statusCode":200`) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("port service not up after 10s; log:\n%s", ps.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ps *portService) stop(t *testing.T) {
	if ps.cmd == nil {
		return
	}
	if terminate(ps.cmd, ps.done) {
		t.Error("port service did not stop within 10s of SIGTERM")
	}
	ps.cmd = nil
	if t.Failed() {
		t.Logf("port service log:\n%s", ps.log())
	}
}

func (ps *portService) log() string {
	b, _ := os.ReadFile(filepath.Join(ps.dir, "portservice.log"))
	return string(b)
}

// sharedLogDir makes dir/logs, where every OS user's agent may write its
// log (sticky, like /tmp).
func sharedLogDir(t testing.TB, dir string) string {
	t.Helper()
	logDir := filepath.Join(dir, "logs")
	if err := os.Mkdir(logDir, 0o1777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(logDir, 0o1777) // past the umask
	return logDir
}

// testUser is a real OS user with an agent of its own.
type testUser struct {
	u     *user.User
	agent *exec.Cmd
	done  chan struct{}
	log   string
}

// namedUser returns the OS user name, creating it when missing.
func namedUser(t testing.TB, name string) *user.User {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v %s", name, err, out)
		}
		if u, err = user.Lookup(name); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// startAs runs a long-lived program as u until the test ends (it is told
// to stop by its standard input closing, and killed a second later if it has
// not) and returns the first line it prints, within wait.
func startAs(t *testing.T, u *user.User, wait time.Duration, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = credential(u)
	cmd.Dir = "/"
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l == "" {
			<-done
			return "exited: " + strings.TrimSpace(stderr.String())
		}
		return l
	case <-time.After(wait):
		t.Fatalf("%s %v as %s printed nothing within %v: %s", filepath.Base(name), args, u.Username, wait, stderr.String())
	}
	return ""
}

func credential(u *user.User) *syscall.SysProcAttr {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Pdeathsig: syscall.SIGKILL}
}

// startUserAgent runs `cardbridge agent` as u, registered with ps.
func startUserAgent(t *testing.T, ps *portService, tu *testUser, logDir string) {
	t.Helper()
	tu.log = filepath.Join(logDir, tu.u.Username+".log")
	tu.agent = exec.Command(filepath.Join(binDir, "cardbridge"), "agent", "--portservice", ps.socket, "--log", tu.log, "--log-level", "debug")
	tu.agent.SysProcAttr = credential(tu.u)
	tu.agent.Dir = "/"
	if err := tu.agent.Start(); err != nil {
		t.Fatal(err)
	}
	tu.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(tu.agent, tu.done)
	t.Cleanup(func() { stopUserAgent(tu) })
}

// startRootAgent runs `cardbridge agent` as the test's own user (root, as
// the browser runs), registered with ps.
func startRootAgent(t *testing.T, ps *portService, tu *testUser, logDir string, extra ...string) {
	t.Helper()
	tu.log = filepath.Join(logDir, "agent.log")
	tu.agent = exec.Command(filepath.Join(binDir, "cardbridge"), append([]string{"agent", "--portservice", ps.socket, "--log", tu.log, "--log-level", "debug"}, extra...)...)
	tu.agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := tu.agent.Start(); err != nil {
		t.Fatal(err)
	}
	tu.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(tu.agent, tu.done)
	t.Cleanup(func() { stopUserAgent(tu) })
}

func stopUserAgent(tu *testUser) {
	if tu.agent == nil {
		return
	}
	terminate(tu.agent, tu.done)
	tu.agent = nil
}

// getPortNumber asks the port service which port is u's, as u, retrying
// until an agent answers (or 10 s pass). It returns 0 for the PR30007 fault.
func getPortNumber(t *testing.T, ps *portService, u *user.User, wantAgent bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := runAs(t, u, filepath.Join(binDir, "probe"), "-base", fmt.Sprintf("http://127.0.0.1:%d", ps.port), "-origin", "https://my.esr.nhs.uk", "/PRS/GetPortNumber")
		var r struct {
			Status int
			Body   string
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("probe printed %q", out)
		}
		var body struct {
			PortData *struct {
				PortNumber int `json:"portNumber"`
			} `json:"portData"`
			Fault *struct{ Code string } `json:"faultException"`
		}
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || r.Status != 200 {
			t.Fatalf("GetPortNumber as %s: %d %s", u.Username, r.Status, r.Body)
		}
		if body.PortData != nil {
			return body.PortData.PortNumber
		}
		if body.Fault == nil || body.Fault.Code != "PR30007" {
			t.Fatalf("GetPortNumber as %s: %s", u.Username, r.Body)
		}
		if !wantAgent || time.Now().After(deadline) {
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// probeAs calls an agent's paths as u and returns the decoded results.
func probeAs(t *testing.T, u *user.User, port int, paths ...string) []struct {
	Path   string
	Status int
	Body   string
} {
	t.Helper()
	out := runAs(t, u, filepath.Join(binDir, "probe"), append([]string{"-base", fmt.Sprintf("http://127.0.0.1:%d", port), "-origin", "https://my.esr.nhs.uk"}, paths...)...)
	var res []struct {
		Path   string
		Status int
		Body   string
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var r struct {
			Path   string
			Status int
			Body   string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	return res
}

func TestPortServiceMultiUser(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	logDir := sharedLogDir(t, dir)
	ps := startPortService(t, filepath.Join(dir, "state"), testutil.FreePort(t), 56100, 56199)

	users := make([]*testUser, 3)
	for i := range users {
		users[i] = &testUser{u: namedUser(t, fmt.Sprintf("cardbridge-u%d", i+1))}
		startUserAgent(t, ps, users[i], logDir)
	}
	c, _, _ := newCard(t, testCard{uuid: "555000000080"})
	insert(t, c, 0)

	// Each user's client learns its own port, and they differ.
	ports := map[string]int{}
	seen := map[int]string{}
	for _, tu := range users {
		p := getPortNumber(t, ps, tu.u, true)
		if p < ps.lo || p > ps.hi {
			t.Fatalf("%s got port %d, outside %d-%d", tu.u.Username, p, ps.lo, ps.hi)
		}
		if other, dup := seen[p]; dup {
			t.Fatalf("%s and %s share port %d", tu.u.Username, other, p)
		}
		ports[tu.u.Username], seen[p] = p, tu.u.Username
	}
	t.Logf("ports: %v", ports)
	// Each reaches its own agent, and nobody else's.
	for _, tu := range users {
		for _, owner := range users {
			res := probeAs(t, tu.u, ports[owner.u.Username], "/api/card", "/api/events")
			for _, r := range res {
				if tu == owner {
					if r.Path == "/api/card" && (r.Status != 200 || !strings.Contains(r.Body, "555000000080")) {
						t.Errorf("%s on its own agent: %s %d %s", tu.u.Username, r.Path, r.Status, r.Body)
					}
					continue
				}
				if r.Status != 403 || !strings.Contains(r.Body, `"WRONG_USER"`) {
					t.Errorf("%s on %s's agent: %s %d %s", tu.u.Username, owner.u.Username, r.Path, r.Status, r.Body)
				}
			}
		}
	}
	// A user without an agent gets the NHS fault.
	if p := getPortNumber(t, ps, otherUser(t), false); p != 0 {
		t.Errorf("a user without an agent got port %d", p)
	}
	// PortStore.txt holds the three, one line each.
	store, err := os.ReadFile(filepath.Join(ps.dir, "PortStore.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tu := range users {
		want := fmt.Sprintf("uid:%s\t%d\t", tu.u.Uid, ports[tu.u.Username])
		if !strings.Contains(string(store), want) {
			t.Errorf("PortStore.txt lacks %q:\n%s", want, store)
		}
	}

	// The service restarted mid-test changes no one's port.
	ps.stop(t)
	ps.start(t)
	for _, tu := range users {
		if p := getPortNumber(t, ps, tu.u, true); p != ports[tu.u.Username] {
			t.Errorf("after a service restart %s has port %d, had %d", tu.u.Username, p, ports[tu.u.Username])
		}
	}

	// An agent restart keeps the port too; a second agent for a user says so and exits.
	u1 := users[0]
	out, err := func() ([]byte, error) {
		cmd := exec.Command(filepath.Join(binDir, "cardbridge"), "agent", "--portservice", ps.socket, "--log", filepath.Join(logDir, "second.log"))
		cmd.SysProcAttr = credential(u1.u)
		cmd.Dir = "/"
		return cmd.CombinedOutput()
	}()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Errorf("a second agent for %s: err %v, output %q", u1.u.Username, err, out)
	}
	stopUserAgent(u1)
	startUserAgent(t, ps, u1, logDir)
	if p := getPortNumber(t, ps, u1.u, true); p != ports[u1.u.Username] {
		t.Errorf("after an agent restart %s has port %d, had %d", u1.u.Username, p, ports[u1.u.Username])
	}

	// A squatter: while u3's agent is down, u1 takes u3's port. When u3's
	// agent comes back, it gets another port and the service logs it.
	u3 := users[2]
	stopUserAgent(u3)
	squat := exec.Command(filepath.Join(binDir, "probe"), "-hold", fmt.Sprintf("127.0.0.1:%d", ports[u3.u.Username]))
	squat.SysProcAttr = credential(u1.u)
	stdout, _ := squat.StdoutPipe()
	if err := squat.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = squat.Process.Kill(); _ = squat.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); !strings.HasPrefix(line, "holding") {
		t.Fatalf("squatter: %q", line)
	}
	startUserAgent(t, ps, u3, logDir)
	p3 := getPortNumber(t, ps, u3.u, true)
	if p3 == 0 || p3 == ports[u3.u.Username] {
		t.Errorf("u3 got port %d with its old port %d squatted", p3, ports[u3.u.Username])
	}
	if res := probeAs(t, u3.u, p3, "/api/card"); len(res) != 1 || res[0].Status != 200 {
		t.Errorf("u3 on its new port: %+v", res)
	}
	if !strings.Contains(ps.log(), `"event":"port-squatted"`) {
		t.Error("the squatting was not logged as a security event")
	}
}

func TestPortServiceTrustedURLAndCorruptState(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	// State files as broken as admins find them: binary junk in one,
	// a half-written line in the other.
	if err := os.WriteFile(filepath.Join(state, "PortStore.txt"), []byte("uid:1000\t56200\t2026-01-01T00:00:00Z\n\x00\xff\xfegarbage\nuid:1001\t562"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "DomainList.txt"), []byte("# version: 1\n\x00\x01\x02\nhttps://my.esr.nhs.uk\nhttps://*.uk\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The trusted URL: a local server publishing a newer DomainList.
	const newList = "# version: 2026-12-01\nhttps://my.esr.nhs.uk\nhttps://new.example\n"
	mux := http.NewServeMux()
	mux.HandleFunc("/api/versioninfo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"latestVersion":"99.0.0","domainListVersion":"2026-12-01"}`)
	})
	mux.HandleFunc("/api/domainlist", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, newList) })
	trusted := httptest.NewServer(mux)
	defer trusted.Close()

	ps := &portService{dir: state, socket: filepath.Join(dir, "portservice.sock"), port: testutil.FreePort(t), lo: 56200, hi: 56299, extra: []string{"--trusted-url", trusted.URL}}
	ps.start(t)
	t.Cleanup(func() { ps.stop(t) })

	// The service started despite the files, kept what it could and
	// rewrote them clean.
	store, _ := os.ReadFile(filepath.Join(state, "PortStore.txt"))
	if string(store) != "uid:1000\t56200\t2026-01-01T00:00:00Z\n" {
		t.Errorf("PortStore.txt after start: %q", store)
	}

	logDir := sharedLogDir(t, dir)
	tu := &testUser{u: namedUser(t, "cardbridge-u1")}
	startUserAgent(t, ps, tu, logDir)
	port := getPortNumber(t, ps, tu.u, true)

	// Within a few seconds the service fetches the new list, saves it and
	// hands it to the agent, which then serves the new origin.
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := runAs(t, tu.u, filepath.Join(binDir, "probe"), "-base", fmt.Sprintf("http://127.0.0.1:%d", port), "-origin", "https://new.example", "/api/versioninfo")
		if strings.Contains(string(res), `"status":200`) && strings.Contains(string(res), "2026-12-01") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never served the trusted URL's list: %s\nservice log:\n%s", res, ps.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	disk, _ := os.ReadFile(filepath.Join(state, "DomainList.txt"))
	if !strings.Contains(string(disk), "https://new.example") || !strings.Contains(string(disk), "# version: 2026-12-01") {
		t.Errorf("DomainList.txt not updated: %q", disk)
	}
	out, err := exec.Command("curl", "-sf", fmt.Sprintf("http://127.0.0.1:%d/api/versioninfo", ps.port)).Output()
	if err != nil || !strings.Contains(string(out), `"latestVersion":"99.0.0"`) || !strings.Contains(string(out), `"updateAvailable":true`) {
		t.Errorf("service versioninfo: %s (%v)", out, err)
	}

	// The trusted URL goes down: the cached list stays in force.
	trusted.Close()
	ps.stop(t)
	ps.start(t)
	disk2, _ := os.ReadFile(filepath.Join(state, "DomainList.txt"))
	if string(disk2) != string(disk) {
		t.Errorf("DomainList.txt changed with the trusted URL down: %q", disk2)
	}
}

// asUID runs fn with the process's effective uid set to uid, so that the
// sockets fn creates belong to that user (SO_PEERCRED and sock_diag record
// the effective uid). Callers serialise: the switch is process-wide.
func asUID(t testing.TB, uid int, fn func()) {
	t.Helper()
	if err := syscall.Setresuid(-1, uid, -1); err != nil {
		t.Fatalf("seteuid %d: %v", uid, err)
	}
	defer func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(fmt.Sprintf("cannot restore the effective uid: %v", err))
		}
	}()
	fn()
}

// The port service killed with SIGKILL again and again during heavy
// registration churn: it always restarts, and no acknowledged allocation is
// lost.
func TestPortServiceCrashUnderChurn(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	ps := startPortService(t, filepath.Join(dir, "state"), testutil.FreePort(t), 56300, 56999)
	acked := map[string]int{}
	var registrations, kills int
	stopAt := time.Now().Add(12 * time.Second)
	nextKill := time.Now().Add(300 * time.Millisecond)
	for i := 0; time.Now().Before(stopAt); i++ {
		if time.Now().After(nextKill) {
			_ = ps.cmd.Process.Signal(syscall.SIGKILL)
			<-ps.done
			ps.cmd = nil
			kills++
			ps.start(t) // fails the test if it does not come back
			nextKill = time.Now().Add(time.Duration(100+i%400) * time.Millisecond)
		}
		uid := 30000 + (i*7919)%400 // users come back, in another order
		user := fmt.Sprintf("uid:%d", uid)
		var reg *portservice.Registration
		var err error
		asUID(t, uid, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reg, err = portservice.Register(ctx, ps.socket, peercred.User{ID: user})
		})
		if err != nil {
			if registrations == 0 && i < 3 {
				t.Logf("register: %v", err)
			}
			continue // the service is restarting
		}
		registrations++
		if old, ok := acked[user]; ok && old != reg.Port {
			t.Errorf("%s was given %d, had %d", user, reg.Port, old)
		}
		acked[user] = reg.Port
		reg.Close()
	}
	// A final kill, then the file on disk must hold every acknowledgement.
	_ = ps.cmd.Process.Signal(syscall.SIGKILL)
	<-ps.done
	ps.cmd = nil
	store, err := os.ReadFile(filepath.Join(ps.dir, "PortStore.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for user, port := range acked {
		if !strings.Contains(string(store), fmt.Sprintf("%s\t%d\t", user, port)) {
			t.Errorf("acknowledged %s on %d, missing from PortStore.txt", user, port)
		}
	}
	ps.start(t)
	t.Logf("%d registrations acknowledged for %d users across %d SIGKILLs", registrations, len(acked), kills)
	if kills < 5 || len(acked) < 50 {
		t.Errorf("too little churn to prove anything: %d kills, %d users", kills, len(acked))
	}
}

// TestAgentWaitsForThePortService: an agent started as a login starts it
// (--portservice) while the port service is not running yet, or restarting
// for an upgrade, waits for it and registers once it answers, rather than
// exiting for its supervisor to start it all over again.
func TestAgentWaitsForThePortService(t *testing.T) {
	needPCSCD(t)
	dir := testutil.SharedTempDir(t)
	logDir := sharedLogDir(t, dir)
	state := filepath.Join(dir, "state")
	ps := &portService{dir: state, socket: filepath.Join(dir, "portservice.sock"), port: testutil.FreePort(t), lo: 56200, hi: 56209}
	tu := &testUser{u: namedUser(t, "cardbridge-u1")}
	startUserAgent(t, ps, tu, logDir)

	waiting := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if raw, _ := os.ReadFile(tu.log); strings.Contains(string(raw), what) {
				return
			}
			select {
			case <-tu.done:
				raw, _ := os.ReadFile(tu.log)
				t.Fatalf("the agent exited before logging %q; its log:\n%s", what, raw)
			default:
			}
			if time.Now().After(deadline) {
				raw, _ := os.ReadFile(tu.log)
				t.Fatalf("the agent did not log %q within 10 s; its log:\n%s", what, raw)
			}
		}
	}
	waiting("no port service yet; waiting for it")
	time.Sleep(500 * time.Millisecond) // a restart's gap

	ps.start(t)
	t.Cleanup(func() { ps.stop(t) })
	p := getPortNumber(t, ps, tu.u, true)
	if p < ps.lo || p > ps.hi {
		t.Fatalf("%s got port %d, outside %d-%d", tu.u.Username, p, ps.lo, ps.hi)
	}
	waiting("the port service answered")
	if res := probeAs(t, tu.u, p, "/api/versioninfo"); res[0].Status != 200 {
		t.Errorf("the agent on %d answers %d %s", p, res[0].Status, res[0].Body)
	}
}
