//go:build linux && cgo

package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// portService is a cardbridge-portservice process run by a test.
type portService struct {
	dir, socket string
	port        int
	lo, hi      int
	cmd         *exec.Cmd
	done        chan struct{}
}

// startPortService runs the port service as root with its state in dir.
func startPortService(t *testing.T, dir string, port, lo, hi int) *portService {
	t.Helper()
	ps := &portService{dir: dir, socket: filepath.Join(dir, "portservice.sock"), port: port, lo: lo, hi: hi}
	ps.start(t)
	t.Cleanup(func() { ps.stop(t) })
	return ps
}

func (ps *portService) start(t *testing.T) {
	t.Helper()
	ps.cmd = exec.Command(filepath.Join(binDir, "cardbridge-portservice"), "run",
		"--state-dir", ps.dir, "--socket", ps.socket, "--ports", strconv.Itoa(ps.port),
		"--range", fmt.Sprintf("%d-%d", ps.lo, ps.hi), "--log-level", "debug")
	ps.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ps.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ps.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(ps.cmd, ps.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ps.socket); err == nil {
			if out, err := exec.Command("curl", "-sf", fmt.Sprintf("http://127.0.0.1:%d/PRS/ConnectPRService", ps.port)).Output(); err == nil && strings.Contains(string(out), `"200"`) {
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
	_ = ps.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ps.done:
	case <-time.After(10 * time.Second):
		_ = ps.cmd.Process.Kill()
		<-ps.done
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

// sharedTempDir is a temporary directory other OS users can enter (a
// testing.T's TempDir sits inside a directory only its owner can).
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cardbridge-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
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

func stopUserAgent(tu *testUser) {
	if tu.agent == nil {
		return
	}
	_ = tu.agent.Process.Signal(syscall.SIGTERM)
	select {
	case <-tu.done:
	case <-time.After(10 * time.Second):
		_ = tu.agent.Process.Kill()
		<-tu.done
	}
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
	dir := sharedTempDir(t)
	logDir := filepath.Join(dir, "logs")
	if err := os.Mkdir(logDir, 0o1777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(logDir, 0o1777)
	ps := startPortService(t, filepath.Join(dir, "state"), freePort(t), 56100, 56199)
	_ = os.Chmod(filepath.Join(dir, "state"), 0o755)

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
