// Package logging sets up cardbridge's logs: zerolog to a size-rotated file
// the user can find (see DefaultDir), and to stderr as well when a person is
// watching, or to the systemd journal, with each line's priority, when the
// program runs under systemd (journal.go); on Windows a program may also send
// its warnings and errors to the Application event log (eventlog.go). What
// must never be logged — PINs, certificate bodies, cookies — is kept out by
// the callers; this package only decides where lines go.
package logging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Options says where and how much to log.
type Options struct {
	File     string // log file; "" for DefaultDir()/<Name>.log
	Name     string // base name of the default file, e.g. "agent"
	Level    string // debug, info, warn or error; "" for info
	MaxBytes int64  // rotate past this size; 0 for 10 MiB
	Keep     int    // rotated files kept (<file>.1 ... .Keep); 0 for 3
	// Stderr forces (true) or suppresses (false) a copy on stderr; nil
	// copies when stderr is a terminal.
	Stderr *bool
	// EventSource, on Windows, also sends warnings and errors to the
	// Application event log as this registered event source (see
	// eventlog.go); when it is not registered the file says so once and the
	// program goes on. Ignored elsewhere.
	EventSource string
}

// New opens the log. Close the returned closer when done.
func New(opt Options) (zerolog.Logger, io.Closer, error) {
	level, err := ParseLevel(opt.Level)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	path := opt.File
	if path == "" {
		dir, err := DefaultDir()
		if err != nil {
			return zerolog.Nop(), nil, err
		}
		path = filepath.Join(dir, cmpOr(opt.Name, "cardbridge")+".log")
	}
	rw, err := openRotating(path, opt.MaxBytes, opt.Keep)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	var w io.Writer = rw
	toStderr := isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd())
	if opt.Stderr != nil {
		toStderr = *opt.Stderr
	}
	switch {
	case journalStream():
		w = zerolog.MultiLevelWriter(rw, newJournalWriter(os.Stderr))
	case toStderr:
		w = zerolog.MultiLevelWriter(rw, zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	}
	var closer io.Closer = rw
	var noEventLog error
	if opt.EventSource != "" {
		sink, err := openEventLog(opt.EventSource)
		switch {
		case err != nil:
			noEventLog = err
		case sink != nil:
			w = zerolog.MultiLevelWriter(w, newEventLogWriter(sink))
			closer = closers{rw, sink}
		}
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	log := zerolog.New(w).Level(level).With().Timestamp().Logger()
	if noEventLog != nil {
		log.Warn().Err(noEventLog).Msg("the Windows event log is unavailable; logging to this file only")
	}
	return log, closer, nil
}

// closers closes each of its closers, the first first.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ParseLevel accepts debug, info, warn or error.
func ParseLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return zerolog.InfoLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "warn", "warning":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	}
	return zerolog.InfoLevel, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
