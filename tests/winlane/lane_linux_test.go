package winlane

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/testutil"
)

// Environment of the lane, set by scripts/test-windows.
const (
	// rootEnv names the trixie root with Wine 10, pcscd and Xvfb.
	rootEnv = "CARDBRIDGE_WINE_ROOT"
	// workEnv names a host directory seen at the same path inside the
	// root: the Windows builds, the Wine prefix, pcscd's configuration.
	workEnv = "CARDBRIDGE_WINE_WORK"
	// shotsEnv, when set, is where screenshots are kept after the run.
	shotsEnv = "CARDBRIDGE_WINE_SHOTS"
)

// vpcdPort is the lane's first virtual reader: not the Linux tests' 35963,
// so that a card meant for one pcscd never reaches the other.
const vpcdPort = 35983

// readerName is what the root's pcscd calls reader i.
func readerName(i int) string { return fmt.Sprintf("Virtual PCD 00 %02d", i) }

// readerAddr is where a virtual card for reader i connects.
func readerAddr(i int) string { return "127.0.0.1:" + strconv.Itoa(vpcdPort+i) }

// display is the lane's virtual X display.
const display = ":93"

// lane is the root and what runs in it for the whole test binary.
var lane struct {
	root, work, bin string
	prefix          string
	wineVersion     string
	pcscd           *proc
	xvfb            *proc
	skip            string // why the tests skip
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	lane.root, lane.work = os.Getenv(rootEnv), os.Getenv(workEnv)
	if lane.root == "" || lane.work == "" {
		lane.skip = "needs the Wine 10 root: run ./scripts/test-windows (it sets " + rootEnv + " and " + workEnv + ")"
		return m.Run()
	}
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, "winlane: set-up failed:", err)
		tearDown()
		return 1
	}
	code := m.Run()
	tearDown()
	return code
}

// needLane skips t outside the lane.
func needLane(t *testing.T) {
	t.Helper()
	if lane.skip != "" {
		t.Skip(lane.skip)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if lane.pcscd != nil {
			t.Logf("the root's pcscd printed:\n%s", lane.pcscd.out.String())
		}
		// What the virtual display said: a window that cannot be made
		// (a dialog failing with "Invalid window handle") may start
		// there. (Wine's own messages are off: WINEDEBUG=-all.)
		if lane.xvfb != nil {
			t.Logf("Xvfb printed:\n%s", testutil.Tail(lane.xvfb.out.String(), 4000))
		}
	})
}

func setUp() error {
	lane.bin = filepath.Join(lane.work, "bin")
	lane.prefix = filepath.Join(lane.work, "prefix")
	for _, d := range []string{lane.bin, lane.prefix} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	build := exec.Command("go", "build", "-o", lane.bin+"/", "../../cmd/cardbridge", "../../cmd/cardbridge-portservice", "../../cmd/cardbridge-supervisor", "../../tools/probe")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the Windows programs: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "winlane: Windows programs built in %v\n", time.Since(start).Round(time.Millisecond))

	if err := startPCSCD(); err != nil {
		return err
	}
	var err error
	if lane.xvfb, err = startInRoot("Xvfb", "Xvfb", display, "-screen", "0", "1024x768x24", "-fbdir", lane.work, "-nolisten", "tcp"); err != nil {
		return err
	}
	start = time.Now()
	// wineserver -p and wineboot leave daemons behind (wineserver,
	// services.exe, ...) that hold their output open: it goes to a file,
	// not a pipe that Wait would wait on.
	wineLog, err := os.Create(filepath.Join(lane.work, "wine.log"))
	if err != nil {
		return err
	}
	defer wineLog.Close()
	server := inRoot("wineserver", "-p")
	server.Stdout, server.Stderr = wineLog, wineLog
	if err := server.Run(); err != nil {
		return fmt.Errorf("wineserver -p: %v (see %s)", err, wineLog.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boot := inRootCtx(ctx, "wine64", "wineboot", "-i")
	boot.Stdout, boot.Stderr = wineLog, wineLog
	if err := boot.Run(); err != nil {
		b, _ := os.ReadFile(wineLog.Name())
		return fmt.Errorf("wineboot -i: %v\n%s", err, b)
	}
	v, _ := inRoot("wine64", "--version").Output()
	lane.wineVersion = strings.TrimSpace(string(v))
	fmt.Fprintf(os.Stderr, "winlane: %s prefix ready in %v\n", lane.wineVersion, time.Since(start).Round(time.Millisecond))
	return nil
}

func tearDown() {
	_ = inRoot("wineserver", "-k").Run()
	if lane.pcscd != nil {
		lane.pcscd.stop()
	}
	if lane.xvfb != nil {
		lane.xvfb.stop()
	}
}

// wineEnv is the environment of every program run in the root.
func wineEnv() []string {
	return []string{
		"PATH=/usr/lib/wine:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=/root",
		"LANG=C.UTF-8",
		"WINEPREFIX=" + lane.prefix,
		"WINEARCH=win64",
		"WINEDEBUG=-all",
		// No Mono or Gecko install prompts, no desktop menu entries.
		"WINEDLLOVERRIDES=mscoree,mshtml=;winemenubuilder.exe=d",
		"DISPLAY=" + display,
	}
}

// inRoot is a command run in the root, chrooted, with wineEnv.
func inRoot(name string, args ...string) *exec.Cmd {
	return inRootCtx(context.Background(), name, args...)
}

func inRootCtx(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append([]string{lane.root, "/usr/bin/env", "-i"}, wineEnv()...)
	argv = append(argv, name)
	cmd := exec.CommandContext(ctx, "chroot", append(argv, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// exe is the path of a Windows program built for the lane.
func exe(name string) string { return filepath.Join(lane.bin, name+".exe") }

// winPath is how Windows programs under Wine see a host path (drive Z: is /).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// proc is a long-running program started in the root.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	out  *testutil.Buffer
}

// startInRoot starts a program in the root; its output is kept.
func startInRoot(name, prog string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: inRoot(prog, args...), done: make(chan struct{}), out: &testutil.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// startWindows starts a Windows program under Wine.
func startWindows(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p, err := startInRoot(name, "wine64", append([]string{exe(name)}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s printed:\n%s", name, p.out.String())
		}
	})
	return p
}

// stop kills the program (Wine's programs take no Unix signals as Windows
// shutdown) and waits for it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// exited reports whether the program has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// runWindows runs a Windows program to its end and returns its standard
// output; standard error is in the error.
func runWindows(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := inRootCtx(ctx, "wine64", append([]string{exe(name)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w; stderr:\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), err
}

// startPCSCD starts the root's pcscd with the lane's vpcd readers and waits
// until the driver listens for cards. The vpcd ports lie in Linux's
// ephemeral range: they are reserved first (testutil.ReservePorts), and a
// start that finds one still held (a connection made before, or its
// TIME_WAIT, up to 60 s after it closed) is tried again for up to 65 s.
func startPCSCD() error {
	reserveErr := testutil.ReservePorts(vpcdPort, vpcdPort+1)
	var err error
	for deadline := time.Now().Add(65 * time.Second); ; {
		if err = startPCSCDOnce(); err == nil || !strings.Contains(err.Error(), "Address already in use") {
			return err
		}
		if time.Now().After(deadline) {
			held := append(testutil.PortHolders(vpcdPort), testutil.PortHolders(vpcdPort+1)...)
			return fmt.Errorf("%w\nvpcd's ports are held by: %s (reserving them: %v)", err, strings.Join(held, "; "), reserveErr)
		}
		time.Sleep(time.Second)
	}
}

func startPCSCDOnce() error {
	conf := filepath.Join(lane.work, "reader.conf.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return err
	}
	text := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x%04X\nLIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x%04X\n", vpcdPort, vpcdPort)
	if err := os.WriteFile(filepath.Join(conf, "vpcd"), []byte(text), 0o644); err != nil {
		return err
	}
	// The root runs no polkit daemon, so pcscd asks none (with polkit and no
	// daemon it refuses every client: SCARD_W_SECURITY_VIOLATION).
	// A pcscd killed earlier leaves its socket and pid file behind, and the
	// next one refuses to start beside them.
	for _, f := range []string{"run/pcscd/pcscd.comm", "run/pcscd/pcscd.pid"} {
		_ = os.Remove(filepath.Join(lane.root, f))
	}
	p, err := startInRoot("pcscd", "pcscd", "--foreground", "--error", "--disable-polkit", "--config", conf)
	if err != nil {
		return err
	}
	lane.pcscd = p
	deadline := time.Now().Add(15 * time.Second)
	for !testutil.Listening(vpcdPort) || !testutil.Listening(vpcdPort+1) {
		if p.exited() || time.Now().After(deadline) || strings.Contains(p.out.String(), "Address already in use") {
			p.stop()
			return fmt.Errorf("the root's pcscd did not open vpcd's ports %d and %d within 15 s; it printed:\n%s", vpcdPort, vpcdPort+1, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
