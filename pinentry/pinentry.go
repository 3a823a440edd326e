package pinentry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is what the PIN prompt shows the user.
type Request struct {
	Title       string        // window title, e.g. "cardbridge"
	Description string        // who asks and why; include the origin and retries left
	Prompt      string        // label next to the entry field; default "PIN:"
	Error       string        // shown on a retry, e.g. "Wrong PIN, 2 attempts left"
	OK          string        // label of the OK button; empty keeps the program's own
	Cancel      string        // label of the Cancel button; empty keeps the program's own
	Timeout     time.Duration // how long the user has (default 2 minutes); the program is killed min(Timeout, 10 s) later
}

// ErrCancelled is returned when the user cancels the prompt or its time runs out.
var ErrCancelled = errors.New("PIN entry cancelled")

// ErrNotFound is returned by Find when no pinentry program is installed.
var ErrNotFound = errors.New("no pinentry program found")

// Program says how to start a pinentry program.
type Program struct {
	Path string   // the executable; absolute, or found on PATH
	Args []string // arguments after the program name
	Env  []string // the complete environment; nil means a minimal copy of ours
}

// Timing of the conversation.
const (
	// DefaultTimeout is how long the user has when Request.Timeout is zero.
	DefaultTimeout = 2 * time.Minute
	// maxGrace is the most time a program gets beyond Request.Timeout to
	// report its own timeout before it is killed.
	maxGrace = 10 * time.Second
	// setupTimeout bounds everything before GETPIN: a program that starts
	// but never greets or answers is broken, not waiting for the user.
	setupTimeout = 15 * time.Second
	// exitGrace is how long a program gets to exit after BYE.
	exitGrace = 2 * time.Second
	// maxStderr bounds what is kept of the program's standard error.
	maxStderr = 512
)

// gpg-error codes (the low 16 bits of an ERR code) that mean the user did not
// give a PIN, from libgpg-error's err-codes.h.
const (
	gpgErrTimeout       = 62
	gpgErrCanceled      = 99
	gpgErrNotConfirmed  = 114
	gpgErrFullyCanceled = 198
)

// isCancel reports whether an ERR code means cancelled, timed out or not confirmed.
func isCancel(code uint32) bool {
	switch code & 0xffff {
	case gpgErrTimeout, gpgErrCanceled, gpgErrNotConfirmed, gpgErrFullyCanceled:
		return true
	}
	return false
}

// GetPIN runs the program, asks the user for a PIN as req describes, and
// returns the PIN, which the caller wipes after use. It returns an error
// wrapping ErrCancelled when the user cancels or the time runs out, and one
// wrapping ctx.Err() when ctx ends first; the program is killed and reaped in
// every case. Errors never contain the PIN.
func (p Program) GetPIN(ctx context.Context, req Request) ([]byte, error) {
	if p.Path == "" {
		return nil, errors.New("run pinentry: no program configured")
	}
	if req.Prompt == "" {
		req.Prompt = "PIN:"
	}
	if req.Timeout <= 0 {
		req.Timeout = DefaultTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run pinentry: %w", err)
	}
	s, err := start(p)
	if err != nil {
		return nil, err
	}
	pin, err := s.converse(ctx, req)
	s.finish(s.inSync)
	if err != nil {
		return nil, s.explain(err)
	}
	return pin, nil
}

// grace is how long a program gets beyond timeout before it is killed: long
// enough for a real pinentry to report its own timeout, short for short ones.
func grace(timeout time.Duration) time.Duration {
	return min(timeout, maxGrace)
}

// session is one running pinentry program.
type session struct {
	name   string // the program's base name, for errors
	env    []string
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	stderr *headBuffer

	lines *lineReader   // owned by the reader goroutine while a read is asked for
	ask   chan struct{} // asks the reader goroutine for one line
	got   chan lineResult

	exited  chan struct{} // closed once the program has been reaped
	waitErr error         // the program's exit; valid once exited is closed

	sentGETPIN bool // whether GETPIN was sent, so a silence is the user's
	inSync     bool // whether the last command got its OK or ERR, so BYE may be sent
	gotData    bool // whether the program sent data, so its words may hold a PIN
}

// lineResult is one line handed from the reader goroutine.
type lineResult struct {
	line []byte
	err  error
}

// start runs the program with pipes for its standard input and output.
func start(p Program) (*session, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start pinentry %s: %w", p.Path, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("start pinentry %s: %w", p.Path, err)
	}
	env := p.Env
	if env == nil {
		env = minimalEnv(os.Environ())
	}
	s := &session{
		name:   filepath.Base(p.Path),
		env:    env,
		stdin:  inW,
		stdout: outR,
		stderr: &headBuffer{max: maxStderr},
		lines:  &lineReader{r: outR},
		ask:    make(chan struct{}),
		got:    make(chan lineResult, 1),
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(p.Path, p.Args...)
	s.cmd.Env = env
	s.cmd.Stdin = inR
	s.cmd.Stdout = outW
	s.cmd.Stderr = s.stderr
	s.cmd.WaitDelay = time.Second // a grandchild holding stderr must not block Wait
	noConsole(s.cmd)
	err = s.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start pinentry %s: %w", p.Path, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	go s.readLines()
	return s, nil
}

// readLines reads one line whenever asked, until ask is closed, and wipes
// its buffer when done.
func (s *session) readLines() {
	defer s.lines.wipe()
	for range s.ask {
		line, err := s.lines.next()
		s.got <- lineResult{line, err}
	}
}

// finish ends the program: politely with BYE when the conversation is in
// step, otherwise (a timeout, a cancelled ctx, a broken answer) by killing
// it. Either way the program is reaped before finish returns.
func (s *session) finish(polite bool) {
	if polite {
		s.stdin.Write([]byte("BYE\n"))
	}
	s.stdin.Close()
	if polite {
		t := time.NewTimer(exitGrace)
		select {
		case <-s.exited:
		case <-t.C:
		}
		t.Stop()
	}
	s.cmd.Process.Kill() // harmless once the program has exited
	<-s.exited
	s.stdout.Close() // unblocks a read if a grandchild holds the pipe open
	close(s.ask)
}

// errNoAnswer says that the program did not answer in time.
var errNoAnswer = errors.New("no answer")

// readLine waits for the next line from the program until deadline or ctx
// ends. The line aliases the reader's buffer until the next readLine.
func (s *session) readLine(ctx context.Context, deadline time.Time) ([]byte, error) {
	s.ask <- struct{}{}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case r := <-s.got:
		return r.line, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errNoAnswer
	}
}

// send writes one command line to the program.
func (s *session) send(line string) error {
	_, err := io.WriteString(s.stdin, line+"\n")
	return err
}

// converse holds the whole conversation and returns the PIN.
func (s *session) converse(ctx context.Context, req Request) ([]byte, error) {
	begin := time.Now()
	end := begin.Add(req.Timeout + grace(req.Timeout))
	setupEnd := begin.Add(min(req.Timeout+grace(req.Timeout), setupTimeout))
	if err := s.greeting(ctx, setupEnd); err != nil {
		return nil, err
	}
	for _, c := range setupCommands(req, s.env) {
		err := s.command(ctx, setupEnd, c.line, nil)
		var ae *assuanError
		switch {
		case errors.As(err, &ae) && !c.required:
			// an older or simpler pinentry without this command or option
		case err != nil:
			return nil, err
		}
	}
	data := make([]byte, 0, maxData)
	defer clear(data[:cap(data)])
	s.sentGETPIN = true
	if err := s.command(ctx, end, "GETPIN", &data); err != nil {
		return nil, err
	}
	pin := make([]byte, len(data))
	copy(pin, data)
	return pin, nil
}

// greeting reads the program's greeting, an OK line, skipping comments.
func (s *session) greeting(ctx context.Context, deadline time.Time) error {
	for range maxLinesPerCommand {
		line, err := s.readLine(ctx, deadline)
		if errors.Is(err, errNoAnswer) {
			return fmt.Errorf("pinentry %s: greeting: no answer in time; is it a pinentry program?", s.name)
		}
		if err != nil {
			return s.readFailed("greeting", err)
		}
		r, err := parseResponse(line)
		switch {
		case err == nil && r.kind == kindComment:
			continue
		case err == nil && r.kind == kindOK:
			return nil
		}
		return fmt.Errorf("pinentry %s: greeting: expected OK, got something else (%d bytes); is it a pinentry program?", s.name, len(line))
	}
	return fmt.Errorf("pinentry %s: greeting: more than %d comment lines", s.name, maxLinesPerCommand)
}

// setupCommand is one command sent before GETPIN.
type setupCommand struct {
	line     string
	required bool // an ERR ends the conversation; otherwise it is ignored
}

// setupCommands lists the commands that set up the prompt. Only SETDESC is
// required: the user must see who asks for the PIN.
func setupCommands(req Request, env []string) []setupCommand {
	var cmds []setupCommand
	add := func(name, arg string, required bool) {
		cmds = append(cmds, setupCommand{name + " " + escapeArg(arg, maxCommandLine-len(name)-1), required})
	}
	option := func(name, value string) {
		if safeOption(value) {
			cmds = append(cmds, setupCommand{"OPTION " + name + "=" + value, false})
		}
	}
	if tty := getenv(env, "GPG_TTY"); tty != "" {
		option("ttyname", tty)
		option("ttytype", getenv(env, "TERM"))
	}
	option("lc-ctype", firstEnv(env, "LC_ALL", "LC_CTYPE", "LANG"))
	option("lc-messages", firstEnv(env, "LC_ALL", "LC_MESSAGES", "LANG"))
	if req.Title != "" {
		add("SETTITLE", req.Title, false)
	}
	add("SETDESC", req.Description, true)
	add("SETPROMPT", req.Prompt, false)
	if req.Error != "" {
		add("SETERROR", req.Error, false)
	}
	if req.OK != "" {
		add("SETOK", req.OK, false)
	}
	if req.Cancel != "" {
		add("SETCANCEL", req.Cancel, false)
	}
	secs := int64((req.Timeout + time.Second - 1) / time.Second)
	cmds = append(cmds, setupCommand{"SETTIMEOUT " + strconv.FormatInt(secs, 10), false})
	return cmds
}

// safeOption reports whether value can be sent as an OPTION value as it is.
func safeOption(value string) bool {
	if value == "" || len(value) > 200 {
		return false
	}
	for _, c := range []byte(value) {
		if c <= ' ' || c == '%' || c == 0x7f {
			return false
		}
	}
	return true
}

// assuanError is an ERR line answering a command.
type assuanError struct {
	command string
	code    uint32
	desc    string // sanitised; empty when it could hold a PIN
}

func (e *assuanError) Error() string {
	if e.desc == "" {
		return fmt.Sprintf("%s failed with error %d", e.command, e.code)
	}
	return fmt.Sprintf("%s failed with error %d (%s)", e.command, e.code, e.desc)
}

// command sends line and reads the answer up to its OK or ERR. D lines are
// decoded into *data when data is not nil and otherwise dropped; either way
// they are wiped from the read buffer.
func (s *session) command(ctx context.Context, deadline time.Time, line string, data *[]byte) error {
	name, _, _ := strings.Cut(line, " ")
	s.inSync = false
	if err := s.send(line); err != nil {
		return s.readFailed(name, err)
	}
	for range maxLinesPerCommand {
		l, err := s.readLine(ctx, deadline)
		if err != nil {
			return s.readFailed(name, err)
		}
		r, err := parseResponse(l)
		if err != nil {
			clear(l)
			return fmt.Errorf("pinentry %s: %s: %w (%d bytes)", s.name, name, err, len(l))
		}
		switch r.kind {
		case kindOK:
			s.inSync = true
			return nil
		case kindErr:
			s.inSync = true
			e := &assuanError{command: name, code: r.code}
			if !s.gotData {
				e.desc = sanitize(string(r.text), 100)
			}
			if name == "GETPIN" && isCancel(r.code) {
				if r.code&0xffff == gpgErrTimeout {
					return fmt.Errorf("pinentry %s: no PIN entered in time: %w", s.name, ErrCancelled)
				}
				return fmt.Errorf("pinentry %s: %w", s.name, ErrCancelled)
			}
			return fmt.Errorf("pinentry %s: %w", s.name, e)
		case kindData:
			s.gotData = true
			if data != nil {
				*data, err = unescapeAppend(*data, r.text)
			}
			clear(l)
			if err != nil {
				return fmt.Errorf("pinentry %s: %s: %w", s.name, name, err)
			}
		case kindInquire:
			if err := s.send("CAN"); err != nil {
				return s.readFailed(name, err)
			}
		case kindStatus, kindComment:
		}
	}
	return fmt.Errorf("pinentry %s: %s: more than %d lines in one answer", s.name, name, maxLinesPerCommand)
}

// readFailed turns a failure to talk to the program into an error naming the
// step: the caller's cancellation, the user's silence, a silent program, or a
// broken pipe, most likely because the program exited.
func (s *session) readFailed(step string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pinentry %s: %s: %w", s.name, step, err)
	case errors.Is(err, errNoAnswer) && s.sentGETPIN:
		return fmt.Errorf("pinentry %s: no PIN entered in time: %w", s.name, ErrCancelled)
	case errors.Is(err, errNoAnswer):
		return fmt.Errorf("pinentry %s: %s: no answer in time", s.name, step)
	case errors.Is(err, errLineTooLong):
		return fmt.Errorf("pinentry %s: %s: line longer than %d bytes", s.name, step, maxLine)
	}
	// The pipe broke: the program most likely exited. Give it a moment to be
	// reaped so the error can say how it ended.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
		if s.waitErr != nil {
			return fmt.Errorf("pinentry %s: %s: program ended: %w", s.name, step, s.waitErr)
		}
		return fmt.Errorf("pinentry %s: %s: program exited", s.name, step)
	case <-t.C:
	}
	return fmt.Errorf("pinentry %s: %s: %w", s.name, step, err)
}

// explain adds what the program wrote to standard error to a failure, unless
// the program already sent data, which its messages might echo.
func (s *session) explain(err error) error {
	if errors.Is(err, ErrCancelled) || s.gotData {
		return err
	}
	if msg := sanitize(s.stderr.String(), maxStderr); msg != "" {
		return fmt.Errorf("%w; it said: %s", err, msg)
	}
	return err
}

// sanitize makes text from the program fit on one line of a log: control
// characters become spaces, runs of space collapse, and it is cut to max bytes.
func sanitize(text string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(text, "?") {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+len(string(r)) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.buf)
}
