package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
	"github.com/cardbridge/cardbridge/pcsc"
)

// EnvVar enables the tests that need a private pcscd.
const EnvVar = "CARDBRIDGE_TEST_PCSCD"

// vpcdDriver is where Debian's vsmartcard-vpcd installs the driver.
const vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// pcscd's pid file and socket, fixed when pcsc-lite is built.
const (
	pidFile    = "/run/pcscd/pcscd.pid"
	socketFile = "/run/pcscd/pcscd.comm"
)

// Slot is one vpcd channel: two readers, "<Name> 00 00" and "<Name> 00 01",
// whose cards connect to 127.0.0.1:Port and Port+1.
type Slot struct {
	Name string
	Port int
}

// DefaultSlot is the channel Debian's vsmartcard-vpcd configures:
// "Virtual PCD 00 00" on port 35963 and "Virtual PCD 00 01" on 35964.
var DefaultSlot = Slot{Name: "Virtual PCD", Port: 35963}

// Reader returns the name of the slot's reader i (0 or 1).
func (s Slot) Reader(i int) string { return fmt.Sprintf("%s 00 %02d", s.Name, i) }

// Addr returns where a virtual card for reader i connects.
func (s Slot) Addr(i int) string { return "127.0.0.1:" + strconv.Itoa(s.Port+i) }

// PCSCD is a pcscd process run by a test.
type PCSCD struct {
	dir string

	// MaxThreads, when above zero, is pcscd's --max-thread at the next
	// Start: how many client contexts it serves at once (200 by default,
	// fewer than the agents of a large terminal server).
	MaxThreads int

	mu    sync.Mutex
	slots []Slot
	cmd   *exec.Cmd
	done  chan struct{}
	log   *testutil.Buffer
}

// Require skips tb unless private-pcscd tests are enabled, and fails it when
// they are enabled but this host cannot run them.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvVar) != "1" {
		tb.Skipf("needs a private pcscd: set %s=1 (root; stops any running pcscd), or run ./scripts/test", EnvVar)
	}
	if err := Check(); err != nil {
		tb.Fatal(err)
	}
}

// Check reports why this host cannot run a private pcscd, or nil.
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("a private pcscd needs root")
	}
	if _, err := exec.LookPath("pcscd"); err != nil {
		return errors.New("pcscd is not installed (apt-get install pcscd libpcsclite-dev vsmartcard-vpcd)")
	}
	if _, err := os.Stat(vpcdDriver); err != nil {
		return errors.New("the vpcd driver is not installed (apt-get install vsmartcard-vpcd)")
	}
	return nil
}

// Start stops any other pcscd and starts one with the given vpcd slots
// (DefaultSlot when none), waiting until it serves every reader. Stop it
// with Stop; the caller's dir holds its configuration.
func Start(dir string, slots ...Slot) (*PCSCD, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if len(slots) == 0 {
		slots = []Slot{DefaultSlot}
	}
	p := &PCSCD{dir: dir}
	if err := p.SetSlots(slots...); err != nil {
		return nil, err
	}
	if err := stopForeign(); err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// SetSlots rewrites the reader configuration; it takes effect at the next
// Start (pcscd reads serial reader configuration only when it starts).
func (p *PCSCD) SetSlots(slots ...Slot) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	conf := filepath.Join(p.dir, "reader.conf.d")
	if err := os.RemoveAll(conf); err != nil {
		return err
	}
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return err
	}
	for i, s := range slots {
		text := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:0x%04X\nLIBPATH %s\nCHANNELID 0x%04X\n", s.Name, s.Port, vpcdDriver, s.Port)
		if err := os.WriteFile(filepath.Join(conf, fmt.Sprintf("vpcd%d", i)), []byte(text), 0o644); err != nil {
			return err
		}
	}
	p.slots = slots
	return nil
}

// Readers lists the reader names the current configuration gives.
func (p *PCSCD) Readers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.slots {
		out = append(out, s.Reader(0), s.Reader(1))
	}
	return out
}

// Start starts pcscd (again) and waits until it lists every configured
// reader. The vpcd ports lie in Linux's ephemeral range, so Start first
// reserves them (testutil.ReservePorts): no connection made after that
// takes one. One made before can still hold a port, and its TIME_WAIT
// lasts up to 60 s after it closed (vpcd then fails with "Address already
// in use"): that is tried again, for up to 65 s, and the error names the
// sockets that held the port.
func (p *PCSCD) Start() error {
	p.mu.Lock()
	var ports []int
	for _, s := range p.slots {
		ports = append(ports, s.Port, s.Port+1)
	}
	p.mu.Unlock()
	reserveErr := testutil.ReservePorts(ports...)
	var err error
	for deadline := time.Now().Add(65 * time.Second); ; {
		err = p.start()
		if err == nil || !strings.Contains(err.Error(), "Address already in use") {
			return err
		}
		if time.Now().After(deadline) {
			var held []string
			for _, port := range ports {
				held = append(held, testutil.PortHolders(port)...)
			}
			return fmt.Errorf("%w\nvpcd's ports %v are held by: %s (reserving them: %v)", err, ports, strings.Join(held, "; "), reserveErr)
		}
		time.Sleep(time.Second)
	}
}

// start is one try of Start.
func (p *PCSCD) start() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return errors.New("pcscd is already running")
	}
	p.log = &testutil.Buffer{}
	args := []string{"--foreground", "--error", "--config", filepath.Join(p.dir, "reader.conf.d")}
	if p.MaxThreads > 0 {
		args = append(args, "--max-thread", strconv.Itoa(p.MaxThreads))
	}
	cmd := exec.Command("pcscd", args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start pcscd: %w", err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
	want := len(p.slots) * 2
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r, err := pcsc.Readers(ctx)
		if err == nil && len(r) >= want {
			return nil
		}
		if strings.Contains(p.Log(), "Address already in use") {
			_ = p.Stop()
			return fmt.Errorf("pcscd's vpcd could not listen on its port; its log:\n%s", p.Log())
		}
		select {
		case <-ctx.Done():
			_ = p.Stop()
			return fmt.Errorf("pcscd did not serve %d readers within 10s (last: %v, %v); its log:\n%s", want, r, err, p.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Log returns what pcscd has printed.
func (p *PCSCD) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		return ""
	}
	return p.log.String()
}

// Stop ends pcscd with SIGTERM (SIGKILL after 5 s) and waits for it.
func (p *PCSCD) Stop() error { return p.signal(syscall.SIGTERM) }

// Kill ends pcscd with SIGKILL, as a crash would, and waits for it.
func (p *PCSCD) Kill() error { return p.signal(syscall.SIGKILL) }

func (p *PCSCD) signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	removeLeftovers()
	return nil
}

// removeLeftovers deletes the pid file and socket a killed pcscd leaves
// behind: the next pcscd refuses to start beside a socket whose pid file is
// missing, or names a live process (after pid reuse).
func removeLeftovers() {
	_ = os.Remove(pidFile)
	_ = os.Remove(socketFile)
}

// stopForeign stops every pcscd this package did not start, so that a
// private one can take the fixed socket and the vpcd ports. It finds them by
// process name rather than by pid file, which a crashed pcscd leaves stale.
func stopForeign() error {
	pids := foreignPIDs()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				time.Sleep(100 * time.Millisecond)
				if alive(pid) {
					return fmt.Errorf("pcscd (pid %d) does not stop", pid)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	removeLeftovers()
	return nil
}

// foreignPIDs lists running pcscd processes in this root.
func foreignPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "pcscd" && alive(pid) && inHostRoot(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// inHostRoot reports whether pid sees the same root directory as this
// process: a pcscd chrooted elsewhere (the Windows lane's) has its own
// /run/pcscd and vpcd ports, and is left alone.
func inHostRoot(pid int) bool {
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
	if err != nil {
		return true // cannot tell: treat it as ours to stop
	}
	self, err := os.Readlink("/proc/self/root")
	return err != nil || root == self
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
