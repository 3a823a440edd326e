package pinentry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRealPinentryCurses drives Debian's pinentry-curses, when installed,
// through a pseudo-terminal: it must show the origin, take a typed PIN
// without echoing it, and hand it back; choosing Cancel and its own timeout
// must count as cancelled; without a terminal it must fail clearly.
func TestRealPinentryCurses(t *testing.T) {
	path, err := exec.LookPath("pinentry-curses")
	if err != nil {
		t.Skip("pinentry-curses is not installed")
	}
	t.Run("typed PIN", func(t *testing.T) {
		term := openPTY(t)
		p := Program{Path: path, Env: []string{"GPG_TTY=" + term.name, "TERM=vt100", "LANG=C.UTF-8", "PATH=/usr/bin:/bin"}}
		go func() {
			if term.waitFor("my.esr.nhs.uk") {
				term.master.Write([]byte(testPIN + "\r"))
			}
		}()
		pin, err := p.GetPIN(context.Background(), Request{
			Title:       "cardbridge",
			Description: "https://my.esr.nhs.uk asks to sign with your smartcard.\n\n3 PIN attempts left.",
			Timeout:     20 * time.Second,
		})
		if err != nil {
			t.Fatalf("GetPIN: %v; screen:\n%s", err, term.screen())
		}
		if string(pin) != testPIN {
			t.Errorf("PIN %q, want %q", pin, testPIN)
		}
		if strings.Contains(term.screen(), testPIN) {
			t.Error("the PIN was echoed on the terminal")
		}
	})
	t.Run("cancel button", func(t *testing.T) {
		term := openPTY(t)
		p := Program{Path: path, Env: []string{"GPG_TTY=" + term.name, "TERM=vt100", "LANG=C.UTF-8"}}
		go func() {
			if term.waitFor("my.esr.nhs.uk") {
				term.master.Write([]byte("\t\t\r"))
			}
		}()
		_, err := p.GetPIN(context.Background(), Request{Description: "https://my.esr.nhs.uk asks", Timeout: 20 * time.Second})
		if !errors.Is(err, ErrCancelled) {
			t.Fatalf("error %v, want ErrCancelled; screen:\n%s", err, term.screen())
		}
	})
	t.Run("its own timeout", func(t *testing.T) {
		term := openPTY(t)
		p := Program{Path: path, Env: []string{"GPG_TTY=" + term.name, "TERM=vt100", "LANG=C.UTF-8"}}
		start := time.Now()
		_, err := p.GetPIN(context.Background(), Request{Description: "https://my.esr.nhs.uk asks", Timeout: time.Second})
		if !errors.Is(err, ErrCancelled) {
			t.Fatalf("error %v, want ErrCancelled; screen:\n%s", err, term.screen())
		}
		if d := time.Since(start); d >= time.Second+grace(time.Second) {
			t.Errorf("took %v: the program was killed instead of honouring SETTIMEOUT", d)
		}
	})
	t.Run("no terminal", func(t *testing.T) {
		_, err := Program{Path: path, Env: []string{"LANG=C.UTF-8"}}.GetPIN(context.Background(), Request{Description: "x", Timeout: 5 * time.Second})
		if err == nil || errors.Is(err, ErrCancelled) || !strings.Contains(err.Error(), "GETPIN failed") {
			t.Fatalf("error %v, want GETPIN failed", err)
		}
	})
}

// pty is a pseudo-terminal whose output is collected.
type pty struct {
	name   string
	master *os.File
	slave  *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
}

// openPTY opens a pseudo-terminal of 24×80 and collects what is drawn on it.
func openPTY(t *testing.T) *pty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n int
	rc, _ := master.SyscallConn()
	rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err != nil {
			return
		}
		if n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); err != nil {
			return
		}
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	})
	if err != nil {
		master.Close()
		t.Fatalf("set up pseudo-terminal: %v", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatalf("open %s: %v", name, err)
	}
	p := &pty{name: name, master: master, slave: slave, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		slave.Close()
		master.Close()
		<-p.done
	})
	return p
}

// screen is everything drawn so far.
func (p *pty) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits up to 10 seconds until text has been drawn.
func (p *pty) waitFor(text string) bool {
	for range 1000 {
		if strings.Contains(p.screen(), text) {
			time.Sleep(100 * time.Millisecond) // let the prompt finish drawing
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
