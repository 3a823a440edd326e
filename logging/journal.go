package logging

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// Under systemd, cardbridge's services log to the journal as well as to
// their file: each line on stderr, which systemd connects to the journal,
// starts with its syslog level as "<N>" (sd-daemon(3)), so that journald
// records the line's priority and `journalctl -p warning` picks out
// warnings and errors. This needs no socket and no library beyond the
// standard stream; the file log keeps every field as JSON.

// journalStream reports whether stderr is the journal's stream: systemd
// sets JOURNAL_STREAM to its "device:inode", which stderr must still be.
func journalStream() bool {
	return journalStreamMatches(os.Getenv("JOURNAL_STREAM"), os.Stderr)
}

// Syslog levels of sd-daemon(3).
const (
	sdErr     = "<3>"
	sdWarning = "<4>"
	sdInfo    = "<6>"
	sdDebug   = "<7>"
)

// sdPrefix is the journal priority of a zerolog level.
func sdPrefix(l zerolog.Level) string {
	switch {
	case l >= zerolog.ErrorLevel:
		return sdErr
	case l == zerolog.WarnLevel:
		return sdWarning
	case l == zerolog.InfoLevel:
		return sdInfo
	}
	return sdDebug
}

// journalWriter writes each log line as one journal line: the priority,
// the message, then the fields as key=value (no time: the journal keeps
// its own).
type journalWriter struct {
	mu  sync.Mutex
	out io.Writer
	buf bytes.Buffer
	cw  zerolog.ConsoleWriter
}

func newJournalWriter(out io.Writer) *journalWriter {
	j := &journalWriter{out: out}
	j.cw = zerolog.ConsoleWriter{
		Out:           &j.buf,
		NoColor:       true,
		PartsOrder:    []string{zerolog.MessageFieldName},
		FieldsExclude: []string{zerolog.TimestampFieldName, zerolog.LevelFieldName},
	}
	return j
}

func (j *journalWriter) Write(p []byte) (int, error) {
	return j.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel writes p, a JSON log line, at level l.
func (j *journalWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf.Reset()
	if _, err := j.cw.Write(p); err != nil {
		return 0, err
	}
	// One entry a line: a newline inside a message would start a line
	// without a priority.
	line := strings.ReplaceAll(strings.TrimRight(j.buf.String(), "\n"), "\n", " ")
	if _, err := io.WriteString(j.out, sdPrefix(l)+line+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}
