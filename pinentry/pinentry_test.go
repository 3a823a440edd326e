package pinentry

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/internal/wine"
)

// testPIN is distinctive enough that finding it in an error or log means the
// PIN leaked.
const testPIN = "917364"

var fakeBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeBuild.dir != "" {
		os.RemoveAll(fakeBuild.dir)
	}
	os.Exit(code)
}

// fakeBinary builds tools/fakepinentry once for the whole test binary, or
// returns $CARDBRIDGE_FAKEPINENTRY, one already built for this platform, where
// there is no Go toolchain to build it (the Windows tests under Wine).
func fakeBinary(t *testing.T) string {
	t.Helper()
	fakeBuild.once.Do(func() {
		if p := os.Getenv("CARDBRIDGE_FAKEPINENTRY"); p != "" {
			fakeBuild.path = p
			return
		}
		dir, err := os.MkdirTemp("", "fakepinentry")
		if err != nil {
			fakeBuild.err = err
			return
		}
		fakeBuild.dir = dir
		path := filepath.Join(dir, "fakepinentry")
		if runtime.GOOS == "windows" {
			path += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", path, "../tools/fakepinentry")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeBuild.err = errors.New("go build ./tools/fakepinentry: " + err.Error() + "\n" + string(out))
			return
		}
		fakeBuild.path = path
	})
	if fakeBuild.err != nil {
		t.Fatal(fakeBuild.err)
	}
	return fakeBuild.path
}

// fake returns a Program running the fake pinentry with the given settings
// (KEY=value, the FAKEPINENTRY_ prefix added) and the path of its log.
func fake(t *testing.T, settings ...string) (Program, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "fakepinentry.log")
	env := []string{"FAKEPINENTRY_LOG=" + log}
	for _, s := range settings {
		env = append(env, "FAKEPINENTRY_"+s)
	}
	return Program{Path: fakeBinary(t), Env: env}, log
}

// logLines reads the fake's log.
func logLines(t *testing.T, log string) []string {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("read fakepinentry log: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// commands is the log without its START and ENV lines.
func commands(t *testing.T, log string) []string {
	var out []string
	for _, l := range logLines(t, log) {
		if !strings.HasPrefix(l, "START ") && !strings.HasPrefix(l, "ENV ") {
			out = append(out, l)
		}
	}
	return out
}

// pidOf is the process id the fake logged.
func pidOf(t *testing.T, log string) int {
	t.Helper()
	for _, l := range logLines(t, log) {
		if v, ok := strings.CutPrefix(l, "START pid="); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("bad START line %q", l)
			}
			return pid
		}
	}
	t.Fatal("fakepinentry logged no START line")
	return 0
}

// checkGone fails unless the fake's process has exited and been reaped.
func checkGone(t *testing.T, log string) {
	t.Helper()
	pid := pidOf(t, log)
	if wine.Running() {
		// Wine keeps an exited process openable by its PID for a moment (under a
		// second) after the last handle to it is closed; Windows does not.
		for deadline := time.Now().Add(3 * time.Second); processExists(pid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if processExists(pid) {
		t.Errorf("pinentry process %d is still there (running or a zombie)", pid)
	}
}

// checkNoPIN fails if err or the fake's log mention pin.
func checkNoPIN(t *testing.T, err error, log, pin string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), pin) {
		t.Errorf("error %q contains the PIN", err)
	}
	if data, _ := os.ReadFile(log); strings.Contains(string(data), pin) {
		t.Errorf("fakepinentry log contains the PIN:\n%s", data)
	}
}

// waitForLog waits until the fake has logged line.
func waitForLog(t *testing.T, log, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(log); strings.Contains(string(data), line+"\n") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fakepinentry never logged %q", line)
}

func TestGetPINReturnsThePIN(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"pin", "chatty"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p, log := fake(t, "PIN="+testPIN, "MODE="+mode)
			pin, err := p.GetPIN(context.Background(), Request{Description: "x", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if string(pin) != testPIN {
				t.Errorf("PIN %q, want %q", pin, testPIN)
			}
			checkNoPIN(t, nil, log, testPIN)
			checkGone(t, log)
			cmds := commands(t, log)
			if last := cmds[len(cmds)-1]; last != "BYE" {
				t.Errorf("last command %q, want BYE", last)
			}
			if mode == "chatty" && !strings.Contains(strings.Join(cmds, "\n"), "\nCAN\n") {
				t.Errorf("the INQUIRE was not answered with CAN: %q", cmds)
			}
		})
	}
}

// TestGetPINSendsTheRequest proves that every field reaches the program
// exactly, in order, escaped on the way and decoded by the program.
func TestGetPINSendsTheRequest(t *testing.T) {
	t.Parallel()
	p, log := fake(t, "PIN="+testPIN)
	req := Request{
		Title:       "cardbridge",
		Description: "https://my.esr.nhs.uk asks to sign with your smartcard.\n\n3 PIN attempts left (100% of them).",
		Prompt:      "Card PIN:",
		Error:       "Wrong PIN, 2 attempts left",
		OK:          "_Sign",
		Cancel:      "_Cancel",
		Timeout:     90*time.Second + time.Millisecond,
	}
	if _, err := p.GetPIN(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`SETTITLE "cardbridge"`,
		`SETDESC "https://my.esr.nhs.uk asks to sign with your smartcard.\n\n3 PIN attempts left (100% of them)."`,
		`SETPROMPT "Card PIN:"`,
		`SETERROR "Wrong PIN, 2 attempts left"`,
		`SETOK "_Sign"`,
		`SETCANCEL "_Cancel"`,
		`SETTIMEOUT "91"`,
		`GETPIN`,
		`BYE`,
	}
	if got := commands(t, log); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGetPINDefaults(t *testing.T) {
	t.Parallel()
	p, log := fake(t)
	pin, err := p.GetPIN(context.Background(), Request{Description: " leading space"})
	if err != nil {
		t.Fatal(err)
	}
	if string(pin) != "123456" {
		t.Errorf("PIN %q, want the fake's default", pin)
	}
	want := []string{`SETDESC " leading space"`, `SETPROMPT "PIN:"`, `SETTIMEOUT "120"`, `GETPIN`, `BYE`}
	if got := commands(t, log); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGetPINEscaping sends PINs and descriptions holding the characters
// Assuan escapes, both ways.
func TestGetPINEscaping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, pin, desc string }{
		{"percent", "91%73%2564", "100%"},
		{"newline", "91\n73\r64", "line one\nline two\r\n"},
		{"controls", "\x01\x7f%", "tab\there"},
		{"utf8", "pïn€", "Zoë’s card"},
		{"empty", "", "empty PIN"},
	} {
		for _, mode := range []string{"pin", "chatty"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				p, log := fake(t, "PIN="+tc.pin, "MODE="+mode)
				pin, err := p.GetPIN(context.Background(), Request{Description: tc.desc, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				if string(pin) != tc.pin {
					t.Errorf("PIN %q, want %q", pin, tc.pin)
				}
				if got, want := commands(t, log)[0], "SETDESC "+strconv.Quote(tc.desc); got != want {
					t.Errorf("program got %s, want %s", got, want)
				}
			})
		}
	}
	t.Run("long description is cut to one Assuan line", func(t *testing.T) {
		t.Parallel()
		p, log := fake(t)
		desc := strings.Repeat("%", 2000)
		if _, err := p.GetPIN(context.Background(), Request{Description: desc, Timeout: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
		got := commands(t, log)[0]
		if want := "SETDESC " + strconv.Quote(strings.Repeat("%", (maxCommandLine-len("SETDESC "))/3)); got != want {
			t.Errorf("program got %d bytes, want %d", len(got), len(want))
		}
	})
}

// TestGetPINCancelled covers every way a real pinentry says that the user
// gave no PIN.
func TestGetPINCancelled(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cancel", "timeout", "notconfirmed"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p, log := fake(t, "PIN="+testPIN, "MODE="+mode)
			start := time.Now()
			_, err := p.GetPIN(context.Background(), Request{Description: "x", Timeout: time.Second})
			if !errors.Is(err, ErrCancelled) {
				t.Fatalf("error %v, want ErrCancelled", err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %v", d)
			}
			checkNoPIN(t, err, log, testPIN)
			checkGone(t, log)
			cmds := commands(t, log)
			if last := cmds[len(cmds)-1]; last != "BYE" {
				t.Errorf("last command %q, want BYE after a clean cancel", last)
			}
		})
	}
}

// TestGetPINHang proves that a program that never answers GETPIN is killed
// once the user's time and its grace have run out, and counts as cancelled.
func TestGetPINHang(t *testing.T) {
	t.Parallel()
	p, log := fake(t, "PIN="+testPIN, "MODE=hang")
	const timeout = time.Second
	start := time.Now()
	_, err := p.GetPIN(context.Background(), Request{Description: "x", Timeout: timeout})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("error %v, want ErrCancelled", err)
	}
	if elapsed < timeout || elapsed > timeout+grace(timeout)+2*time.Second {
		t.Errorf("returned after %v, want about %v", elapsed, timeout+grace(timeout))
	}
	checkNoPIN(t, err, log, testPIN)
	checkGone(t, log)
}

// TestGetPINContextCancelled proves that cancelling ctx kills the program
// promptly, whatever it was doing.
func TestGetPINContextCancelled(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"hang", "silent"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p, log := fake(t, "PIN="+testPIN, "MODE="+mode)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			go func() {
				if mode == "hang" {
					waitForLog(t, log, "GETPIN")
				} else {
					// Running, and silent: started a moment ago (under
					// Wine a program takes a while to start).
					for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
						if data, _ := os.ReadFile(log); strings.Contains(string(data), "START pid=") {
							break
						}
					}
					time.Sleep(200 * time.Millisecond)
				}
				cancelled = time.Now()
				cancel()
			}()
			_, err := p.GetPIN(ctx, Request{Description: "x", Timeout: time.Minute})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if errors.Is(err, ErrCancelled) {
				t.Errorf("error %v is ErrCancelled, but the user did not cancel", err)
			}
			if d := time.Since(cancelled); d > time.Second {
				t.Errorf("returned %v after cancel", d)
			}
			checkGone(t, log)
		})
	}
	t.Run("before start", func(t *testing.T) {
		t.Parallel()
		p, log := fake(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.GetPIN(ctx, Request{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		if _, err := os.Stat(log); err == nil {
			t.Error("the program was started for a cancelled context")
		}
	})
}

// TestGetPINFailures covers broken, hostile and missing programs: each is a
// clear error, never ErrCancelled, never holding the PIN, never leaving a
// process behind.
func TestGetPINFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode    string
		timeout time.Duration
		want    string // in the error
	}{
		{"crash", 5 * time.Second, "exit status 2; it said: fakepinentry: crashing as asked"},
		{"garbage", 5 * time.Second, "GETPIN: malformed response"},
		{"badescape", 5 * time.Second, "GETPIN: bad percent escape"},
		{"longline", 5 * time.Second, "GETPIN: line longer than 4096 bytes"},
		{"flood", 5 * time.Second, "GETPIN: more than 256 lines"},
		{"error", 5 * time.Second, "GETPIN failed with error 83918950 (Inappropriate ioctl for device <Pinentry>)"},
		{"silent", time.Second, "greeting: no answer in time"},
		{"nonsense", 5 * time.Second, "it said: fakepinentry: unknown FAKEPINENTRY_MODE"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			p, log := fake(t, "PIN="+testPIN, "MODE="+tc.mode)
			start := time.Now()
			pin, err := p.GetPIN(context.Background(), Request{Description: "x", Timeout: tc.timeout})
			if err == nil {
				t.Fatalf("got PIN %q, want an error", pin)
			}
			if errors.Is(err, ErrCancelled) {
				t.Errorf("error %v is ErrCancelled", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if d := time.Since(start); d > tc.timeout+grace(tc.timeout)+2*time.Second {
				t.Errorf("took %v", d)
			}
			checkNoPIN(t, err, log, testPIN)
			checkGone(t, log)
		})
	}
}

func TestGetPINRejectedCommands(t *testing.T) {
	t.Parallel()
	t.Run("optional ones are skipped", func(t *testing.T) {
		t.Parallel()
		p, _ := fake(t, "PIN="+testPIN, "REJECT=SETTITLE,SETPROMPT,SETERROR,SETOK,SETCANCEL,SETTIMEOUT,OPTION")
		p.Env = append(p.Env, "GPG_TTY=/dev/pts/99", "TERM=xterm", "LANG=C.UTF-8")
		pin, err := p.GetPIN(context.Background(), Request{Title: "t", Description: "d", Error: "e", OK: "o", Cancel: "c"})
		if err != nil {
			t.Fatal(err)
		}
		if string(pin) != testPIN {
			t.Errorf("PIN %q", pin)
		}
	})
	t.Run("SETDESC is required", func(t *testing.T) {
		t.Parallel()
		p, log := fake(t, "PIN="+testPIN, "REJECT=SETDESC")
		_, err := p.GetPIN(context.Background(), Request{Description: "d"})
		if err == nil || errors.Is(err, ErrCancelled) || !strings.Contains(err.Error(), "SETDESC failed") {
			t.Fatalf("error %v, want SETDESC failed", err)
		}
		if strings.Contains(strings.Join(commands(t, log), "\n"), "GETPIN") {
			t.Error("GETPIN was sent without a description")
		}
		checkGone(t, log)
	})
}

func TestGetPINOptionsFromEnvironment(t *testing.T) {
	t.Parallel()
	p, log := fake(t)
	p.Env = append(p.Env, "GPG_TTY=/dev/pts/7", "TERM=xterm-256color", "LANG=en_GB.UTF-8", "LC_MESSAGES=cy_GB.UTF-8", "LC_CTYPE=bad value")
	if _, err := p.GetPIN(context.Background(), Request{Description: "d"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`OPTION "ttyname=/dev/pts/7"`,
		`OPTION "ttytype=xterm-256color"`,
		`OPTION "lc-messages=cy_GB.UTF-8"`,
	}
	if got := commands(t, log)[:3]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("options:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGetPINMissingProgram(t *testing.T) {
	t.Parallel()
	for _, p := range []Program{
		{Path: filepath.Join(t.TempDir(), "no-such-pinentry")},
		{Path: "no-such-pinentry-on-path"},
		{Path: t.TempDir()},
		{},
	} {
		_, err := p.GetPIN(context.Background(), Request{Description: "x"})
		if err == nil || errors.Is(err, ErrCancelled) {
			t.Errorf("GetPIN with %q: error %v, want a failure", p.Path, err)
			continue
		}
		if p.Path != "" && !strings.Contains(err.Error(), "start pinentry "+p.Path) {
			t.Errorf("error %q does not name the program", err)
		}
	}
}

// TestGetPINMinimalEnvironment proves that with Program.Env nil the program
// gets only the variables a prompt needs, and that the fake reads its
// settings from the file next to it when its environment has none.
func TestGetPINMinimalEnvironment(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, filepath.Base(fakeBinary(t)))
	data, err := os.ReadFile(fakeBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	conf := "# written by the test\nFAKEPINENTRY_LOG=" + log + "\nFAKEPINENTRY_LOGENV=1\nFAKEPINENTRY_PIN=" + testPIN + "\n"
	if err := os.WriteFile(exe+".conf", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DISPLAY", ":99")
	t.Setenv("LC_TIME", "en_GB.UTF-8")
	t.Setenv("CARDBRIDGE_TEST_SECRET", "s3cret")
	t.Setenv("FAKEPINENTRY_MODE", "cancel") // would win over the file if passed on
	pin, err := Program{Path: exe}.GetPIN(context.Background(), Request{Description: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if string(pin) != testPIN {
		t.Errorf("PIN %q, want the one from the .conf file", pin)
	}
	env := map[string]bool{}
	for _, l := range logLines(t, log) {
		if name, ok := strings.CutPrefix(l, "ENV "); ok {
			env[name] = true
		}
	}
	for _, name := range []string{"DISPLAY", "LC_TIME", "PATH"} {
		if !env[name] {
			t.Errorf("the program did not get %s", name)
		}
	}
	for name := range env {
		if wine.Running() && (strings.HasPrefix(name, "WINE") || name == "PROCESSOR_ARCHITECTURE") {
			// Wine's loader gives every process it starts its WINE*
			// variables and, from Wine 10, PROCESSOR_ARCHITECTURE.
			continue
		}
		if !keepEnv(name) {
			t.Errorf("the program got %s", name)
		}
	}
}

// TestGetPINNoLeaks runs every kind of ending and checks that no goroutine
// outlives GetPIN.
func TestGetPINNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, mode := range []string{"pin", "cancel", "crash", "garbage", "flood", "longline", "hang"} {
		p, log := fake(t, "MODE="+mode)
		p.GetPIN(context.Background(), Request{Description: "x", Timeout: 500 * time.Millisecond})
		checkGone(t, log)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestFindHere(t *testing.T) {
	p, err := Find()
	if errors.Is(err, ErrNotFound) {
		t.Skipf("no pinentry installed: %v", err)
	}
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if !filepath.IsAbs(p.Path) {
		t.Errorf("Find returned relative path %q", p.Path)
	}
	if fi, err := os.Stat(p.Path); err != nil || fi.IsDir() {
		t.Errorf("Find returned %q: %v", p.Path, err)
	}
	t.Logf("Find chose %s", p.Path)
}
