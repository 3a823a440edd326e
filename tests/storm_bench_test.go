//go:build linux && cgo

package tests

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/installer"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

// A terminal server's Monday morning: stormUsers real OS users log in within
// the same second, each session starting its agent as the login entries do
// (`cardbridge-supervisor --portservice SOCKET`), all registering with
// one port service, which is restarted half-way through (as systemd restarts
// the installed one, keeping its listening sockets open meanwhile, so pages
// asking then wait for the new process); then they sit idle. Before it, the
// same users start a bare net/http program each (the reference), then their
// agents directly, as the systemd user unit starts them (no supervisor).
const (
	stormUsers = 500
	// stormUID0 is the first user's uid, stormPrefix their names' start:
	// user i is stormPrefix+i, uid stormUID0+i, in group nogroup.
	stormUID0   = 59000
	stormPrefix = "cbstorm"
	stormGID    = 65534
	// The sessions start in stormBatches waves stormStep apart: all
	// within a second.
	stormBatches = 10
	stormStep    = 100 * time.Millisecond
	// stormSettle is the interval the idle measurement waits to pass
	// quietly before it starts.
	stormSettle = 5 * time.Second
)

// osUser is an OS account made for a benchmark.
type osUser struct {
	name      string
	uid, gid  int
	home, log string
}

// pwdLock holds /etc/.pwd.lock as lckpwdf(3) does, so that no useradd,
// passwd or vipw changes the account files meanwhile, and returns its
// release.
func pwdLock(b *testing.B) func() {
	b.Helper()
	f, err := os.OpenFile("/etc/.pwd.lock", os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		f.Close()
		b.Fatalf("lock the account files: %v", err)
	}
	return func() { f.Close() }
}

// rewritePasswd replaces /etc/passwd, atomically and with its mode and
// owner, by what edit makes of its lines.
func rewritePasswd(b *testing.B, edit func(lines []string) []string) {
	b.Helper()
	const path = "/etc/passwd"
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	out := strings.Join(edit(lines), "\n") + "\n"
	tmp := path + ".cardbridge-bench"
	if err := os.WriteFile(tmp, []byte(out), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		b.Fatal(err)
	}
}

// isStormLine reports whether a passwd line is one of the benchmark's users.
func isStormLine(line string) bool {
	name, rest, _ := strings.Cut(line, ":")
	if !strings.HasPrefix(name, stormPrefix) {
		return false
	}
	f := strings.Split(rest, ":")
	uid, err := strconv.Atoi(f[min(1, len(f)-1)])
	return err == nil && uid >= stormUID0 && uid < stormUID0+stormUsers
}

// makeOSUsers creates n OS accounts (passwd entries with no password and
// no login shell, homes in a temporary directory) and removes them when b
// ends, with any a crashed run left. useradd would take about 0.15 s per
// account on this machine (it forks its helpers each time), a minute and
// more for a storm's users: the entries are written the way vipw does,
// under the account files' lock, in one atomic rename.
func makeOSUsers(b *testing.B, n int) []osUser {
	b.Helper()
	homes := filepath.Join(testutil.SharedTempDir(b), "home")
	if err := os.Mkdir(homes, 0o755); err != nil {
		b.Fatal(err)
	}
	users := make([]osUser, n)
	var entries []string
	for i := range users {
		u := osUser{name: fmt.Sprintf("%s%03d", stormPrefix, i), uid: stormUID0 + i, gid: stormGID}
		u.home = filepath.Join(homes, u.name)
		u.log = filepath.Join(u.home, ".local", "state", "cardbridge", "agent.log")
		if err := os.MkdirAll(u.home, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(u.home, u.uid, u.gid); err != nil {
			b.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf("%s:*:%d:%d:cardbridge benchmark:%s:/usr/sbin/nologin", u.name, u.uid, u.gid, u.home))
		users[i] = u
	}
	remove := func() {
		unlock := pwdLock(b)
		defer unlock()
		rewritePasswd(b, func(lines []string) []string {
			return slices.DeleteFunc(lines, isStormLine)
		})
	}
	unlock := pwdLock(b)
	rewritePasswd(b, func(lines []string) []string {
		return append(slices.DeleteFunc(lines, isStormLine), entries...)
	})
	unlock()
	b.Cleanup(remove)
	return users
}

// stormAgent is one user's session: the program the login started, and
// when it started.
type stormAgent struct {
	user    osUser
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time
}

// gatedStarts are sessions waiting to start. Starting 500 processes one
// after the other from the benchmark takes seconds; instead each session
// is a shell of its user's, in the user's CPU group, blocked reading one
// of stormBatches pipes (its gate), which execs the session's program
// when its gate opens. The gates open stormStep apart, so that every
// start falls within the same second, as at 08:00 on a shared host.
type gatedStarts struct {
	sessions []*stormAgent
	gates    []*os.File            // the pipes' write ends
	gateCPU  map[int]time.Duration // what each shell used before its gate opened, by pid
}

// unitEnvironment is the environment a systemd unit's Environment= lines
// give (the simple form: unquoted NAME=value words).
func unitEnvironment(b *testing.B, unit string) []string {
	b.Helper()
	var env []string
	for _, line := range strings.Split(unit, "\n") {
		if rest, ok := strings.CutPrefix(line, "Environment="); ok {
			if strings.ContainsAny(rest, `"'\`) {
				b.Fatalf("the unit's %q is quoted; read it as systemd does", line)
			}
			env = append(env, strings.Fields(rest)...)
		}
	}
	return env
}

// startGated starts a gated session for each user, running argv(user)
// once its gate opens, with env added to the user's login environment and
// its output in the file out in the user's home, and stops them all (by
// process group) when b ends or aborts.
func startGated(b *testing.B, users []osUser, groups []*cpuGroup, out string, env []string, argv func(osUser) []string) *gatedStarts {
	b.Helper()
	g := &gatedStarts{gates: make([]*os.File, stormBatches), gateCPU: map[int]time.Duration{}}
	waits := make([]*os.File, stormBatches)
	for k := range g.gates {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		waits[k], g.gates[k] = r, w
		b.Cleanup(func() { w.Close() })
	}
	var mu sync.Mutex // sessions, as the watchdog's abort hook reads it
	kill := func(wait bool) {
		mu.Lock()
		defer mu.Unlock()
		g.kill(wait)
	}
	b.Cleanup(func() { kill(true) })
	onAbort(func() { kill(false) })
	for i, u := range users {
		args := argv(u)
		cmd := exec.Command("/bin/sh", append([]string{"-c", `read _ <&3; exec "$0" "$@" 3<&-`}, args...)...)
		cmd.Env = append([]string{"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "PATH=/usr/bin:/bin"}, env...)
		cmd.Dir = u.home
		cmd.ExtraFiles = []*os.File{waits[i%stormBatches]}
		f, err := os.Create(filepath.Join(u.home, out))
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}},
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
		}
		err = groups[i].start(cmd)
		f.Close() // the session has its own copy
		if err != nil {
			b.Fatalf("start %s's session: %v", u.name, err)
		}
		s := &stormAgent{user: u, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(s.done) }()
		mu.Lock()
		g.sessions = append(g.sessions, s)
		mu.Unlock()
	}
	for _, r := range waits {
		r.Close()
	}
	// The shells have started and wait; what they used is not the
	// programs' start.
	time.Sleep(2 * time.Second)
	for _, s := range g.sessions {
		if sample, err := sampleProc(s.cmd.Process.Pid); err == nil {
			g.gateCPU[s.cmd.Process.Pid] = sample.cpu
		}
	}
	return g
}

// open opens the gates, stormStep apart, noting when each session
// started, runs atHalf (if not nil) once half the sessions have started,
// and returns how long the starts took.
func (g *gatedStarts) open(atHalf func()) time.Duration {
	t0 := time.Now()
	for k, gate := range g.gates {
		time.Sleep(time.Until(t0.Add(time.Duration(k) * stormStep)))
		now := time.Now()
		for i := k; i < len(g.sessions); i += stormBatches {
			g.sessions[i].started = now
		}
		gate.Close()
		if k == stormBatches/2-1 && atHalf != nil {
			atHalf()
		}
	}
	return time.Since(t0)
}

// kill ends every session now and, with wait, waits for them to exit.
func (g *gatedStarts) kill(wait bool) {
	for _, s := range g.sessions {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // the program and its children
		if wait {
			<-s.done
		}
	}
}

// agentLog is what a user's agent log says about its start.
type agentLog struct {
	starts  int       // "cardbridge agent starting" lines: runs of the agent
	serving time.Time // the first "serving"
	ports   []int     // the port of each "serving", in order
	errors  []string  // messages logged at error
}

// readAgentLog reads a user's agent log (JSON lines).
func readAgentLog(path string) (agentLog, error) {
	var l agentLog
	f, err := os.Open(path)
	if err != nil {
		return l, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e struct {
			Level, Message, Component string
			Port                      int
			Time                      time.Time
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Message == "cardbridge agent starting":
			l.starts++
		case e.Message == "serving" && e.Component == "http":
			if l.serving.IsZero() {
				l.serving = e.Time
			}
			l.ports = append(l.ports, e.Port)
		}
		if e.Level == "error" {
			l.errors = append(l.errors, e.Message)
		}
	}
	return l, sc.Err()
}

// procSample is what /proc says of one process at one moment.
type procSample struct {
	cpu       time.Duration // CPU time of its threads (schedstat), else utime + stime
	switches  uint64        // context switches of all its threads: its wake-ups
	byThread  map[string]uint64
	ussKB     float64
	pssKB     float64
	rssKB     float64
	threads   int
	fds       int
	supervise bool // the login's supervisor, not the agent it runs
}

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat.
const clockTicks = 100

// sampleProc reads pid's figures.
func sampleProc(pid int) (procSample, error) {
	var s procSample
	dir := fmt.Sprintf("/proc/%d", pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) < 13 {
		return s, fmt.Errorf("%s/stat: %q", dir, stat)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	ticks := time.Duration(ut+st) * time.Second / clockTicks
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return s, err
	}
	s.threads = len(tasks)
	s.byThread = map[string]uint64{}
	// utime and stime are charged a whole tick at a time, to whatever runs
	// when the tick comes (some virtual machines charge short-lived
	// processes nearly nothing); schedstat's first field is each thread's
	// time on a CPU in nanoseconds.
	exact := true
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/task/" + t.Name() + "/schedstat")
		f := strings.Fields(string(data))
		if err != nil || len(f) == 0 {
			exact = false
			break
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		s.cpu += time.Duration(ns)
	}
	if !exact {
		s.cpu = ticks
	}
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/task/" + t.Name() + "/status")
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				s.switches += n
				s.byThread[t.Name()] += n
			}
		}
	}
	rollup, err := os.ReadFile(dir + "/smaps_rollup")
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(rollup)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "Rss":
			s.rssKB = kb
		case "Pss":
			s.pssKB = kb
		case "Private_Clean", "Private_Dirty":
			s.ussKB += kb
		}
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	cmdline, _ := os.ReadFile(dir + "/cmdline")
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	s.supervise = filepath.Base(argv0) == "cardbridge-supervisor"
	return s, nil
}

// processesOf lists the processes whose real uid is one of the storm's.
func processesOf() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) == nil && int(st.Uid) >= stormUID0 && int(st.Uid) < stormUID0+stormUsers {
			pids = append(pids, pid)
		}
	}
	return pids
}

// getPortLatency is what the GetPortNumber prober measured (probe -latency).
type getPortLatency struct {
	Samples  int            `json:"samples"`
	Errors   int            `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	P50      float64        `json:"p50_us"`
	P99      float64        `json:"p99_us"`
	Max      float64        `json:"max_us"`
	LastErr  string         `json:"lastErr"`
	WakeP99  float64        `json:"wake_p99_us"` // how late its own sleeps ended
}

// probeGetPort starts a browser's stand-in: a process of u, in u's CPU
// group, asking the port service at addr for GetPortNumber for 8 s, a new
// connection each time. The function it returns waits for the prober and
// returns what it measured.
func probeGetPort(b *testing.B, addr string, u osUser, g *cpuGroup) func() getPortLatency {
	b.Helper()
	prober := exec.Command(filepath.Join(binDir, "probe"), "-base", "http://"+addr, "-origin", psBenchOrigin,
		"-latency", "8s", "-wait", "5s", "/PRS/GetPortNumber")
	prober.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}, Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	prober.Stdout = &out
	if err := g.start(prober); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- prober.Wait() }()
	time.Sleep(100 * time.Millisecond) // its first answers come from a quiet service
	return func() getPortLatency {
		b.Helper()
		if err := <-done; err != nil {
			b.Fatalf("GetPortNumber prober: %v", err)
		}
		var lat getPortLatency
		if err := json.Unmarshal([]byte(out.String()), &lat); err != nil || lat.Samples == 0 {
			b.Fatalf("prober printed %q (%v)", out.String(), err)
		}
		return lat
	}
}

// BenchmarkLogonStorm: 500 real OS users' agents start within the same
// second and register with one port service, which is restarted half-way
// through the starts; a user's browser keeps asking GetPortNumber
// meanwhile. Before them, the reference: the same users start a bare
// net/http program each, the same way. Then all 500 sit idle (no page, no card change) for
// BENCH_IDLE seconds (default 60) and each process's cost is read from
// /proc. Targets: p99 exec to serving 2 s, GetPortNumber p99 50 ms during
// the storm, no agent refused, every port unique and kept across the
// restart; idle: USS 2 MB per agent, no agent waking more than once a
// second, the port service under 1% of a core.
func BenchmarkLogonStorm(b *testing.B) {
	needPCSCD(b)
	boundBench(b, 25*time.Minute)
	if os.Geteuid() != 0 {
		b.Skip("needs root: it makes OS users")
	}
	// pcscd serves 200 client contexts by default: fewer than the agents.
	_ = bed.Stop()
	bed.MaxThreads = 4 * stormUsers
	if err := bed.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bed.Stop(); bed.MaxThreads = 0; _ = bed.Start() })
	idle := 60 * time.Second
	if v, err := strconv.Atoi(os.Getenv("BENCH_IDLE")); err == nil && v > 0 {
		idle = time.Duration(v) * time.Second
	}

	n := stormUsers
	if v, err := strconv.Atoi(os.Getenv("BENCH_STORM_USERS")); err == nil && v > 0 && v <= stormUsers {
		n = v // a smaller storm, to look into one
	}
	users := makeOSUsers(b, n)
	// Restarted as systemd restarts the installed service: its well-known
	// port's sockets stay open meanwhile (the package test proves that
	// against systemd itself).
	ps := startBenchPortServiceWith(b, binDir, true)
	mid := func(v []float64) float64 { c := slices.Clone(v); slices.Sort(c); return c[len(c)/2] }
	mean := func(v []float64) float64 {
		t := 0.0
		for _, x := range v {
			t += x
		}
		return t / float64(len(v))
	}
	// The service and the sessions in CPU groups of their own, as systemd
	// places them (system.slice, user.slice, and in it a user-UID.slice
	// for each user: see child).
	sessions, grouped := newCPUGroup(b, "sessions")
	var system *cpuGroup
	if grouped {
		if system, grouped = newCPUGroup(b, "system"); grouped {
			if err := system.join(ps.cmd.Process.Pid); err != nil {
				b.Fatal(err)
			}
		}
	}
	if !grouped {
		b.Log("no CPU groups on this host: the port service competes with every session process")
	}
	if !grouped {
		sessions, system = nil, nil // start everything where the benchmark runs
	}
	ps.group = system // a restarted service starts in its group
	// Each user's processes share a CPU group of the user's own.
	userGroups := make([]*cpuGroup, len(users))
	for i, u := range users {
		g, err := sessions.child(b, "user-"+strconv.Itoa(u.uid))
		if err != nil {
			b.Fatalf("%s's CPU group: %v", u.name, err)
		}
		userGroups[i] = g
	}

	// The reference: the same users start a bare net/http program each,
	// the same way and with the agent's runtime settings, and it notes
	// when it serves. What the machine takes to start 500 Go programs at
	// once, with no card, port service or supervisor.
	refs := startGated(b, users, userGroups, "reference.out", agentRuntimeEnv, func(u osUser) []string {
		return []string{filepath.Join(binDir, "refserver"), "-listen", "127.0.0.1:0", "-ready", filepath.Join(u.home, "reference-ready")}
	})
	// The first user's browser asks GetPortNumber meanwhile, of a service
	// with no agent starting: what the machine's load alone does to it.
	refProbe := probeGetPort(b, ps.addr, users[0], userGroups[0])
	refSpread := refs.open(nil)
	var refServing []time.Duration
	var refCPU []float64
	for _, s := range refs.sessions {
		ready := filepath.Join(s.user.home, "reference-ready")
		var raw []byte
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if raw, _ = os.ReadFile(ready); len(raw) > 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s's reference program not serving 2 minutes after its start", s.user.name)
			}
		}
		ns, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			b.Fatalf("%s: %v", ready, err)
		}
		refServing = append(refServing, time.Unix(0, ns).Sub(s.started))
	}
	for _, s := range refs.sessions { // all serving: what starting cost them
		sample, err := sampleProc(s.cmd.Process.Pid)
		if err != nil {
			b.Fatalf("%s's reference program: %v", s.user.name, err)
		}
		refCPU = append(refCPU, ms(sample.cpu-refs.gateCPU[s.cmd.Process.Pid]))
	}
	refLat := refProbe()
	refs.kill(true)
	b.Logf("reference: %d bare net/http programs started within %s", len(refs.sessions), refSpread)
	time.Sleep(2 * time.Second) // their exits settle

	// The same users' agents as the systemd user unit starts them:
	// directly, with no supervisor (Linux sessions run by a systemd user
	// manager; the storm below is the Windows Run key's and other Linux
	// desktops' login entry). What the supervisor adds is the difference.
	// Each logs to a file of its own, and the storm below reads the port
	// service's log from where this one's ends. They get the unit's
	// Environment= settings too.
	directLog := func(u osUser) string { return filepath.Join(u.home, "direct-agent.log") }
	unitEnv := unitEnvironment(b, installer.SystemdAgentUnit(filepath.Join(binDir, "cardbridge")))
	direct := startGated(b, users, userGroups, "direct.out", unitEnv, func(u osUser) []string {
		return []string{filepath.Join(binDir, "cardbridge"), "agent", "--portservice", ps.socket, "--log", directLog(u)}
	})
	// The port service's CPU over these first registrations: each user
	// is new to it, so each is given a port (a listener lookup and a
	// test-bind per port tried) and PortStore.txt is saved.
	psRegBefore, err := sampleProc(ps.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("the port service: %v", err)
	}
	directSpread := direct.open(nil)
	var directServing []time.Duration
	var directCPU []float64
	for _, s := range direct.sessions {
		var l agentLog
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if l, _ = readAgentLog(directLog(s.user)); !l.serving.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				agentLog, _ := os.ReadFile(directLog(s.user))
				out, _ := os.ReadFile(filepath.Join(s.user.home, "direct.out"))
				b.Fatalf("%s's agent, started directly, not serving 2 minutes after its start; its output:\n%s\nits log:\n%s\nport service log:\n%s",
					s.user.name, testutil.Tail(string(out), 2000), testutil.Tail(string(agentLog), 2000), testutil.Tail(ps.log(), 4000))
			}
		}
		directServing = append(directServing, l.serving.Sub(s.started))
	}
	for _, s := range direct.sessions { // all serving: what starting cost them
		sample, err := sampleProc(s.cmd.Process.Pid)
		if err != nil {
			b.Fatalf("%s's agent, started directly: %v", s.user.name, err)
		}
		directCPU = append(directCPU, ms(sample.cpu-direct.gateCPU[s.cmd.Process.Pid]))
	}
	psRegAfter, err := sampleProc(ps.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("the port service: %v", err)
	}
	psRegisterCPU := ms(psRegAfter.cpu-psRegBefore.cpu) / float64(len(direct.sessions))
	direct.kill(true)
	b.Logf("%d agents started directly within %s", len(direct.sessions), directSpread)
	time.Sleep(2 * time.Second) // the port service sees them go
	psLogFrom := len(ps.log())

	// The storm: each session execs the agent's supervisor, as the login
	// entries do.
	storm := startGated(b, users, userGroups, "session.out", nil, func(osUser) []string {
		return []string{installer.SupervisorProgram(filepath.Join(binDir, "cardbridge")), "--portservice", ps.socket}
	})
	agents, gateCPU := storm.sessions, storm.gateCPU

	// The first user's browser asks GetPortNumber throughout.
	probe := probeGetPort(b, ps.addr, users[0], userGroups[0])

	restarted := make(chan error, 1)
	var stopTook time.Duration // how long the restart's stop took (read after <-restarted)
	var stopKilled bool
	var stopSent time.Time
	startedAll := storm.open(func() { // half the users started
		go func() {
			var err error
			stopSent = time.Now()
			stopTook, stopKilled, err = ps.restart(90 * time.Second)
			restarted <- err
		}()
	})
	if err := <-restarted; err != nil {
		b.Fatalf("restart the port service: %v", err)
	}
	keptSockets := ps.store.kept()
	if keptSockets == 0 {
		b.Errorf("the port service handed no sockets over for its restart; its log:\n%s", testutil.Tail(ps.log(), 2000))
	}

	// Wait until every agent serves.
	logs := make([]agentLog, len(agents))
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		waiting := 0
		for i, a := range agents {
			if logs[i].serving.IsZero() {
				logs[i], _ = readAgentLog(a.user.log)
				if logs[i].serving.IsZero() {
					waiting++
				}
			}
		}
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d agents not serving 4 minutes after the storm; port service log:\n%s", waiting, len(agents), testutil.Tail(ps.log(), 4000))
		}
	}
	lat := probe()

	// Every user's port: unique, the one its agent first served on, and
	// the one the restarted service keeps for it.
	time.Sleep(time.Second) // the restarted service saves PortStore.txt as agents re-register
	store := map[string]int{}
	raw, err := os.ReadFile(filepath.Join(ps.dir, "PortStore.txt"))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if f := strings.Split(strings.TrimSpace(line), "\t"); len(f) >= 2 {
			store[f[0]], _ = strconv.Atoi(f[1])
		}
	}
	var toServing []time.Duration
	seen := map[int]string{}
	reruns, agentErrors := 0, 0
	var rerunWhy []string
	for i, a := range agents {
		l := logs[i]
		toServing = append(toServing, l.serving.Sub(a.started))
		reruns += max(0, l.starts-1)
		// An agent that fails before it logs (no port service to register
		// with, say) tells its supervisor, which starts it again.
		out, err := os.ReadFile(filepath.Join(a.user.home, "session.out"))
		if err != nil {
			b.Fatal(err)
		}
		for line := range strings.Lines(string(out)) {
			if strings.Contains(line, "starting it again") {
				reruns++
				if len(rerunWhy) < 3 {
					rerunWhy = append(rerunWhy, a.user.name+": "+strings.TrimSpace(string(out)))
				}
			}
		}
		agentErrors += len(l.errors)
		first := l.ports[0]
		for _, p := range l.ports {
			if p != first {
				b.Errorf("%s's agent moved from port %d to %d", a.user.name, first, p)
			}
		}
		if got := store[fmt.Sprintf("uid:%d", a.user.uid)]; got != first {
			b.Errorf("%s: PortStore.txt holds port %d, its agent serves on %d", a.user.name, got, first)
		}
		if other, dup := seen[first]; dup {
			b.Errorf("%s and %s share port %d", other, a.user.name, first)
		}
		seen[first] = a.user.name
	}
	// Every registration the service turned away, whatever the reason, and
	// how long those it answered took it (from the agent's connection to
	// the answer; a new user's port is saved first).
	refused := 0
	var registering []time.Duration
	stormLog := ps.log()
	if len(stormLog) >= psLogFrom { // (not rotated meanwhile)
		stormLog = stormLog[psLogFrom:]
	}
	for line := range strings.Lines(stormLog) {
		if strings.Contains(line, `"message":"agent registered"`) {
			var e struct {
				Took float64 `json:"took"` // ms
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				b.Fatalf("port service log: %v: %s", err, line)
			}
			registering = append(registering, time.Duration(e.Took*float64(time.Millisecond)))
		}
		for _, m := range []string{"cannot give the agent a port", "refusing a second agent", "refusing an agent"} {
			if strings.Contains(line, m) {
				refused++
				b.Logf("port service refused an agent: %s", strings.TrimSpace(line))
			}
		}
	}
	b.ReportMetric(float64(len(agents)), "users")
	b.ReportMetric(map[bool]float64{true: 1}[grouped], "cpu-groups")
	b.ReportMetric(ms(startedAll), "all-started-ms")
	b.ReportMetric(ms(refSpread), "reference-started-ms")
	b.ReportMetric(ms(median(refServing)), "reference-serving-p50-ms")
	b.ReportMetric(ms(percentile(refServing, 0.99)), "reference-serving-p99-ms")
	b.ReportMetric(mean(refCPU), "reference-start-cpu-ms")
	b.ReportMetric(float64(len(users))*mean(refCPU)/float64(runtime.NumCPU())/1000, "reference-cpu-bound-s")
	b.ReportMetric(ms(directSpread), "direct-started-ms")
	b.ReportMetric(ms(median(directServing)), "direct-serving-p50-ms")
	b.ReportMetric(ms(percentile(directServing, 0.99)), "direct-serving-p99-ms")
	b.ReportMetric(mean(directCPU), "direct-start-cpu-ms")
	b.ReportMetric(float64(len(users))*mean(directCPU)/float64(runtime.NumCPU())/1000, "direct-cpu-bound-s")
	b.ReportMetric(psRegisterCPU, "direct-portservice-cpu-ms")
	b.ReportMetric(ms(median(toServing)), "serving-p50-ms")
	b.ReportMetric(ms(percentile(toServing, 0.99)), "serving-p99-ms")
	b.ReportMetric(ms(slices.Max(toServing)), "serving-max-ms")
	b.ReportMetric(lat.P50/1000, "getport-p50-ms")
	b.ReportMetric(lat.P99/1000, "getport-p99-ms")
	b.ReportMetric(float64(lat.Samples), "getport-samples")
	b.ReportMetric(float64(lat.Errors), "getport-failed")
	b.ReportMetric(lat.WakeP99/1000, "getport-prober-wake-p99-ms")
	b.ReportMetric(refLat.P99/1000, "reference-getport-p99-ms")
	b.ReportMetric(refLat.WakeP99/1000, "reference-getport-prober-wake-p99-ms")
	b.ReportMetric(float64(refLat.Errors), "reference-getport-failed")
	b.ReportMetric(float64(refLat.Samples), "reference-getport-samples")
	if lat.Errors > 0 {
		b.Logf("GetPortNumber: %d of %d failed, the last with: %s", lat.Errors, lat.Samples, lat.LastErr)
	}
	b.ReportMetric(float64(refused), "refused")
	b.ReportMetric(ms(median(registering)), "register-p50-ms")
	b.ReportMetric(ms(percentile(registering, 0.99)), "register-p99-ms")
	b.ReportMetric(float64(reruns), "agent-reruns")
	for _, why := range rerunWhy {
		b.Logf("an agent run again: %s", testutil.Tail(why, 600))
	}
	b.ReportMetric(float64(agentErrors), "agent-errors")
	b.ReportMetric(float64(len(seen)), "unique-ports")
	b.ReportMetric(ms(stopTook), "restart-stop-ms")
	b.ReportMetric(map[bool]float64{true: 1}[stopKilled], "restart-killed")
	b.ReportMetric(float64(keptSockets), "restart-kept-sockets")
	if stopTook > time.Second {
		for line := range strings.Lines(ps.log()) {
			if strings.Contains(line, "port service stopp") {
				b.Logf("the restart's stop, SIGTERM at %s, took %s; the service logged: %s", stopSent.UTC().Format("15:04:05.000"), stopTook, strings.TrimSpace(line))
			}
		}
	}
	if stopKilled {
		b.Logf("the port service did not stop within 90 s of SIGTERM in the storm and was killed, as systemd would; its goroutines then:\n%s", testutil.Tail(ps.readStderr(), 6000))
	}
	b.Logf("GetPortNumber during the storm: %d samples, %d failed (the service restarting; last: %s), answers %v",
		lat.Samples, lat.Errors, lat.LastErr, lat.Statuses)

	// Idle: once the storm's work is done, every process read twice, idle
	// seconds apart. An agent logs "serving" before it has quite finished
	// starting, and on a loaded machine some finish seconds later (each
	// such moment is a burst of the Go runtime's sysmon ticks, dozens of
	// switches within milliseconds): the storm is over after a
	// stormSettle interval in which no process switched more than once a
	// second, waited for at most a minute.
	pids := processesOf()
	sampleAll := func() map[int]procSample {
		m := map[int]procSample{}
		for _, pid := range pids {
			if s, err := sampleProc(pid); err == nil {
				m[pid] = s
			}
		}
		return m
	}
	settleStart := time.Now()
	before := sampleAll()
	for {
		time.Sleep(stormSettle)
		now := sampleAll()
		busiest := 0.0
		for pid, s1 := range now {
			if s0, ok := before[pid]; ok {
				busiest = max(busiest, float64(s1.switches-s0.switches)/stormSettle.Seconds())
			}
		}
		before = now
		if busiest <= 1 || time.Since(settleStart) > time.Minute {
			break
		}
	}
	b.ReportMetric(time.Since(settleStart).Seconds(), "settle-s")
	// What the starts cost: the CPU each process has used by now, nearly
	// all of it starting (the storm's limit on a machine of few cores).
	var agentStart, supStart []float64
	for pid, s0 := range before {
		if s0.supervise {
			supStart = append(supStart, ms(s0.cpu-gateCPU[pid]))
		} else {
			agentStart = append(agentStart, ms(s0.cpu))
		}
	}
	psBefore, err := sampleProc(ps.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(idle)
	psAfter, err := sampleProc(ps.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	var agentUSS, agentPSS, supUSS, wakeups []float64
	var agentThreads, agentFDs []float64
	var agentCPU time.Duration
	for pid, s0 := range before {
		s1, err := sampleProc(pid)
		if err != nil {
			b.Errorf("process %d of a storm user ended while idle: %v", pid, err)
			continue
		}
		w := float64(s1.switches-s0.switches) / idle.Seconds()
		if s1.supervise {
			supUSS = append(supUSS, s1.ussKB/1024)
			wakeups = append(wakeups, w)
			continue
		}
		agentUSS = append(agentUSS, s1.ussKB/1024)
		agentPSS = append(agentPSS, s1.pssKB/1024)
		agentThreads = append(agentThreads, float64(s1.threads))
		agentFDs = append(agentFDs, float64(s1.fds))
		agentCPU += s1.cpu - s0.cpu
		wakeups = append(wakeups, w)
	}
	// The busiest processes, for whoever looks into the wake-ups.
	type waker struct {
		pid       int
		perSecond float64
		supervise bool
	}
	var wakers []waker
	for pid, s0 := range before {
		if s1, err := sampleProc(pid); err == nil {
			wakers = append(wakers, waker{pid, float64(s1.switches-s0.switches) / idle.Seconds(), s1.supervise})
		}
	}
	slices.SortFunc(wakers, func(a, b waker) int { return cmp.Compare(b.perSecond, a.perSecond) })
	for i, w := range wakers[:min(5, len(wakers))] {
		b.Logf("idle wake-ups: pid %d (supervisor %v) %.2f/s", w.pid, w.supervise, w.perSecond)
		if i > 0 {
			continue
		}
		// Its threads, in the order the runtime made them (the second is
		// the Go runtime's sysmon).
		if s1, err := sampleProc(w.pid); err == nil {
			tids := slices.Collect(maps.Keys(s1.byThread))
			slices.SortFunc(tids, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
			var parts []string
			for _, tid := range tids {
				n, was := s1.byThread[tid], before[w.pid].byThread[tid]
				parts = append(parts, fmt.Sprintf("%s:%d", tid, n-min(n, was)))
			}
			b.Logf("  its threads' switches while idle (tid:count): %s", strings.Join(parts, " "))
		}
	}
	if len(agentUSS) != len(users) || len(supUSS) != len(users) {
		b.Fatalf("found %d agents and %d supervisors of %d users", len(agentUSS), len(supUSS), len(users))
	}
	b.ReportMetric(mean(agentStart), "agent-start-cpu-ms")
	b.ReportMetric(mean(supStart), "supervisor-start-cpu-ms")
	// The least time the starts can take with every core busy with them.
	b.ReportMetric(float64(len(users))*(mean(agentStart)+mean(supStart))/float64(runtime.NumCPU())/1000, "cpu-bound-s")
	over := 0
	for _, w := range wakeups {
		if w > 1 {
			over++
		}
	}
	b.ReportMetric(float64(over), "wakeups-over-1-per-s")
	b.ReportMetric(mid(agentUSS), "agent-uss-median-MB")
	b.ReportMetric(slices.Max(agentUSS), "agent-uss-max-MB")
	b.ReportMetric(mid(agentPSS), "agent-pss-median-MB")
	b.ReportMetric(mid(supUSS), "supervisor-uss-median-MB")
	b.ReportMetric(mid(wakeups), "wakeups-median-per-s")
	b.ReportMetric(slices.Max(wakeups), "wakeups-max-per-s")
	b.ReportMetric(agentCPU.Seconds()/idle.Seconds()*100, "agents-cpu-pct")
	b.ReportMetric(mid(agentThreads), "agent-threads")
	b.ReportMetric(mid(agentFDs), "agent-fds")
	b.ReportMetric(psAfter.rssKB/1024, "portservice-rss-MB")
	b.ReportMetric((psAfter.cpu-psBefore.cpu).Seconds()/idle.Seconds()*100, "portservice-cpu-pct")
	b.ReportMetric(idle.Seconds(), "idle-s")
	b.ReportMetric(0, "ns/op")
}

// cpuGroup is a CPU control group the benchmark made, as systemd makes
// system.slice for services and user.slice for sessions: the scheduler
// shares the CPU between groups first, so a thousand session processes
// do not starve the one port service.
type cpuGroup struct {
	dir  string
	root string // the hierarchy's root
	v2   bool
}

// newCPUGroup makes a CPU group called name (cgroup v2, else v1's cpu
// controller) and removes it when b ends, moving what is left in it back
// to the root. ok is false where the host has neither.
func newCPUGroup(b *testing.B, name string) (g *cpuGroup, ok bool) {
	b.Helper()
	var root string
	if data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && strings.Contains(string(data), "cpu") {
		root = "/sys/fs/cgroup"
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu"), 0)
	} else if _, err := os.Stat("/sys/fs/cgroup/cpu/cgroup.procs"); err == nil {
		root = "/sys/fs/cgroup/cpu"
	} else {
		return nil, false
	}
	g = &cpuGroup{dir: filepath.Join(root, "cardbridge-bench-"+name), root: root, v2: root == "/sys/fs/cgroup"}
	if err := g.make(b); err != nil {
		b.Logf("no CPU group %s: %v", g.dir, err)
		return nil, false
	}
	return g, true
}

// make makes g's directory, in place of one a crashed run left, and
// removes it when the benchmark ends, with any process still in it moved
// back to the root group.
func (g *cpuGroup) make(b *testing.B) error {
	_ = os.Remove(g.dir)
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return err
	}
	b.Cleanup(func() {
		data, _ := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
		for _, pid := range strings.Fields(string(data)) {
			_ = os.WriteFile(filepath.Join(g.root, "cgroup.procs"), []byte(pid), 0)
		}
		for range 50 {
			if os.Remove(g.dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return nil
}

// child makes a group inside g, as systemd makes user-UID.slice inside
// user.slice: the CPU is shared between the children by weight, so a
// user with one busy process gets as much as a user with many. On a nil
// g it returns nil.
func (g *cpuGroup) child(b *testing.B, name string) (*cpuGroup, error) {
	if g == nil {
		return nil, nil
	}
	if g.v2 {
		if err := os.WriteFile(filepath.Join(g.dir, "cgroup.subtree_control"), []byte("+cpu"), 0); err != nil {
			return nil, err
		}
	}
	c := &cpuGroup{dir: filepath.Join(g.dir, name), root: g.root, v2: g.v2}
	return c, c.make(b)
}

// join moves the process pid (all its threads) into g.
func (g *cpuGroup) join(pid int) error {
	return os.WriteFile(filepath.Join(g.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// start starts cmd inside g from its first instruction, as systemd starts
// a service in its slice and a session's processes in the user's: moved
// in after it started, a process (or the children it forks first) would
// run its start outside the group. A nil g starts cmd where the benchmark
// runs.
func (g *cpuGroup) start(cmd *exec.Cmd) error {
	if g == nil {
		return cmd.Start()
	}
	if g.v2 {
		dir, err := os.Open(g.dir)
		if err != nil {
			return err
		}
		defer dir.Close()
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(dir.Fd())
		return cmd.Start()
	}
	// cgroup v1 places threads: a child starts in the group of the
	// thread that forks it, so this thread forks from inside g and then
	// goes back where it was.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return err
	}
	back := ""
	for line := range strings.Lines(string(self)) {
		if f := strings.SplitN(strings.TrimSpace(line), ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "cpu") {
			back = filepath.Join(g.root, f[2], "tasks")
		}
	}
	if back == "" {
		return fmt.Errorf("this thread's cpu group is not in %q", self)
	}
	tid := []byte(strconv.Itoa(syscall.Gettid()))
	if err := os.WriteFile(filepath.Join(g.dir, "tasks"), tid, 0); err != nil {
		return err
	}
	startErr := cmd.Start()
	if err := os.WriteFile(back, tid, 0); err != nil {
		panic(fmt.Sprintf("move the benchmark's thread back to %s: %v", back, err)) // it would take the benchmark's later children with it
	}
	return startErr
}
