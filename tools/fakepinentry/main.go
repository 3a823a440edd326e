// Command fakepinentry is a scripted pinentry program for tests: it speaks the
// server side of GnuPG's Assuan pinentry protocol on standard input and
// output and answers GETPIN as configured, without a window or a terminal.
//
// It is configured by FAKEPINENTRY_* settings, read first from the file named
// like the executable with ".conf" appended (fakepinentry.conf, or
// fakepinentry.exe.conf on Windows), one KEY=VALUE a line, '#' comments, then
// from the environment, which wins. The file lets a test drive a copy started
// by a program that hands its pinentry a minimal environment, such as
// `cardbridge agent --pinentry PATH`.
//
//	FAKEPINENTRY_PIN=123456   the PIN GETPIN answers (default 123456)
//	FAKEPINENTRY_MODE=MODE    how GETPIN is answered (default pin):
//	    pin           D <PIN> then OK
//	    chatty        a comment, a status line, an INQUIRE (expects CAN or END),
//	                  then the PIN one byte per D line, then OK
//	    cancel        ERR 83886179 Operation cancelled
//	    timeout       waits SETTIMEOUT seconds, then ERR 83886142 Timeout
//	    notconfirmed  ERR 83886194 Not confirmed
//	    error         ERR 83918950 Inappropriate ioctl for device (no terminal)
//	    hang          never answers and ignores end of input; must be killed
//	    silent        never even greets; must be killed
//	    crash         writes to standard error and exits with status 2
//	    garbage       answers with lines that are no Assuan (one holds the PIN)
//	    badescape     D line with a broken percent escape
//	    longline      D line of 8 KiB
//	    flood         status lines without end
//	FAKEPINENTRY_DELAY=500ms  wait before answering GETPIN, like a user typing
//	FAKEPINENTRY_REJECT=SETTIMEOUT,OPTION  commands to answer with ERR
//	    "Unknown IPC command", like an older pinentry
//	FAKEPINENTRY_LOG=PATH     append "START pid=N", then one line per command
//	    received: the command, then its percent-decoded argument quoted as a Go
//	    string (SETDESC "https://x asks\n\n3 attempts left."), so newlines
//	    stay on one line. The PIN it answers is never logged.
//	FAKEPINENTRY_LOGENV=1     also log "ENV NAME" for every variable it got
//	    (names only)
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// config is what the settings ask for.
type config struct {
	pin    string
	mode   string
	delay  time.Duration
	reject map[string]bool
	log    string
	logEnv bool
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

// run serves one pinentry conversation and returns the exit status.
func run(stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "fakepinentry: %v\n", err)
		return 1
	}
	var logf io.Writer = io.Discard
	if cfg.log != "" {
		f, err := os.OpenFile(cfg.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "fakepinentry: open log: %v\n", err)
			return 1
		}
		defer f.Close()
		logf = f
	}
	s := &server{cfg: cfg, in: bufio.NewReader(stdin), out: stdout, stderr: stderr, log: logf}
	return s.serve()
}

// loadConfig reads the file next to the executable, then the environment.
func loadConfig() (config, error) {
	settings := map[string]string{}
	if exe, err := os.Executable(); err == nil {
		data, err := os.ReadFile(exe + ".conf")
		switch {
		case err == nil:
			for _, line := range strings.Split(string(data), "\n") {
				line = strings.TrimRight(line, "\r")
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					return config{}, fmt.Errorf("read %s.conf: line without '='", exe)
				}
				settings[k] = v
			}
		case !os.IsNotExist(err):
			return config{}, fmt.Errorf("read config: %w", err)
		}
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "FAKEPINENTRY_") {
			settings[k] = v
		}
	}
	cfg := config{pin: "123456", mode: "pin", reject: map[string]bool{}}
	if v, ok := settings["FAKEPINENTRY_PIN"]; ok {
		cfg.pin = v
	}
	if v := settings["FAKEPINENTRY_MODE"]; v != "" {
		cfg.mode = v
	}
	if v := settings["FAKEPINENTRY_DELAY"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return config{}, fmt.Errorf("parse FAKEPINENTRY_DELAY: %w", err)
		}
		cfg.delay = d
	}
	for _, c := range strings.Split(settings["FAKEPINENTRY_REJECT"], ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.reject[strings.ToUpper(c)] = true
		}
	}
	cfg.log = settings["FAKEPINENTRY_LOG"]
	cfg.logEnv = settings["FAKEPINENTRY_LOGENV"] == "1"
	return cfg, nil
}

// server is one conversation.
type server struct {
	cfg     config
	in      *bufio.Reader
	out     io.Writer
	stderr  io.Writer
	log     io.Writer
	timeout int // seconds from SETTIMEOUT
}

// serve greets, then answers commands until BYE or the end of input.
func (s *server) serve() int {
	s.logf("START pid=%d", os.Getpid())
	if s.cfg.logEnv {
		var names []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
		sort.Strings(names)
		for _, n := range names {
			s.logf("ENV %s", n)
		}
	}
	if s.cfg.mode == "silent" {
		sleepForever()
	}
	s.reply("OK Pleased to meet you, process %d", os.Getpid())
	for {
		line, err := s.readLine()
		if err != nil {
			return 0 // end of input: the client went away
		}
		cmd, rawArg, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		arg, ok := unescape(rawArg)
		if !ok {
			s.logf("%s (bad escape)", cmd)
			s.reply("ERR 536871179 Invalid value")
			continue
		}
		if rawArg == "" {
			s.logf("%s", cmd)
		} else {
			s.logf("%s %s", cmd, strconv.Quote(arg))
		}
		if s.cfg.reject[cmd] {
			s.reply("ERR 536871187 Unknown IPC command <User defined source 1>")
			continue
		}
		switch cmd {
		case "BYE":
			s.reply("OK closing connection")
			return 0
		case "GETPIN":
			if status, exit := s.getPIN(); exit {
				return status
			}
		case "SETTIMEOUT":
			n, err := strconv.Atoi(strings.TrimSpace(arg))
			if err != nil || n < 0 {
				s.reply("ERR 536871179 Invalid value")
				continue
			}
			s.timeout = n
			s.reply("OK")
		case "GETINFO":
			switch arg {
			case "pid":
				s.reply("D %d", os.Getpid())
			case "version":
				s.reply("D 1.3.1")
			case "flavor":
				s.reply("D fake")
			}
			s.reply("OK")
		case "OPTION", "SETTITLE", "SETDESC", "SETPROMPT", "SETERROR", "SETOK", "SETCANCEL",
			"SETNOTOK", "SETKEYINFO", "SETREPEAT", "SETREPEATERROR", "SETQUALITYBAR",
			"SETQUALITYBAR_TT", "RESET", "NOP", "CONFIRM", "MESSAGE":
			s.reply("OK")
		default:
			s.reply("ERR 536871187 Unknown IPC command <User defined source 1>")
		}
	}
}

// getPIN answers GETPIN as the mode says; exit reports that the program
// should end with status.
func (s *server) getPIN() (status int, exit bool) {
	if s.cfg.delay > 0 {
		time.Sleep(s.cfg.delay)
	}
	switch s.cfg.mode {
	case "pin":
		s.reply("D %s", escape(s.cfg.pin))
		s.reply("OK")
	case "chatty":
		s.reply("# fakepinentry is chatty")
		s.reply("S PROGRESS 1")
		s.reply("INQUIRE QUALITY 12")
		answer, err := s.readLine()
		if err != nil {
			return 0, true
		}
		s.logf("%s", answer)
		for i := 0; i < len(s.cfg.pin); i++ {
			s.reply("D %s", escape(s.cfg.pin[i:i+1]))
		}
		s.reply("OK")
	case "cancel":
		s.reply("ERR 83886179 Operation cancelled <Pinentry>")
	case "timeout":
		time.Sleep(time.Duration(s.timeout) * time.Second)
		s.reply("ERR 83886142 Timeout <Pinentry>")
	case "notconfirmed":
		s.reply("ERR 83886194 Not confirmed <Pinentry>")
	case "error":
		s.reply("ERR 83918950 Inappropriate ioctl for device <Pinentry>")
	case "hang":
		sleepForever()
	case "crash":
		fmt.Fprintln(s.stderr, "fakepinentry: crashing as asked")
		return 2, true
	case "garbage":
		s.reply("\x00\xff this is no assuan %s", s.cfg.pin)
		s.reply("OK")
	case "badescape":
		s.reply("D %s%%G", escape(s.cfg.pin))
		s.reply("OK")
	case "longline":
		s.reply("D %s", strings.Repeat("7", 8192))
		s.reply("OK")
	case "flood":
		for {
			if _, err := io.WriteString(s.out, "S PROGRESS flooding\n"); err != nil {
				return 0, true
			}
		}
	default:
		fmt.Fprintf(s.stderr, "fakepinentry: unknown FAKEPINENTRY_MODE %q\n", s.cfg.mode)
		return 1, true
	}
	return 0, false
}

// readLine reads one command line without its newline.
func (s *server) readLine() (string, error) {
	line, err := s.in.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// reply writes one line to the client.
func (s *server) reply(format string, args ...any) {
	fmt.Fprintf(s.out, format+"\n", args...)
}

// logf appends one line to the log.
func (s *server) logf(format string, args ...any) {
	fmt.Fprintf(s.log, format+"\n", args...)
}

// sleepForever blocks without ever returning, as a hung program would.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// escape percent-escapes data for a D line.
func escape(data string) string {
	var b strings.Builder
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '%' || c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unescape decodes %XX escapes; ok is false for a broken one.
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}
