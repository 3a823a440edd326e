package logging

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// On Windows the port service's warnings and errors also go to the
// Application event log, where administrators and their monitoring look,
// under an event source the MSI registers (eventlog_windows.go). Each event
// holds one human line, the same words as the file's JSON line: the level,
// the message, then the fields as key=value; the event's own time and type
// stand for the rest. The file keeps every line.

// Event IDs of cardbridge's events: one per type, so that a monitoring rule
// can pick out errors by ID as well as by level. With EventCreate.exe as
// the source's message file (as the MSI registers it) an ID must lie within
// 1-1000, and the event shows its text as it is.
const (
	EventIDError   = 1
	EventIDWarning = 2
)

// maxEventText bounds the text of one event, in bytes (the event log takes
// up to 31,839 characters a string); a longer line is cut, and ends in "…".
const maxEventText = 8000

// eventSink is an event log's writing side: the Windows event log, or a
// test's recorder.
type eventSink interface {
	Warning(eid uint32, msg string) error
	Error(eid uint32, msg string) error
	Close() error
}

// eventLogWriter writes each warning and error line to an eventSink, as
// text; lines of lower levels are left to the other writers.
type eventLogWriter struct {
	mu   sync.Mutex
	sink eventSink
	buf  bytes.Buffer
	cw   zerolog.ConsoleWriter
}

func newEventLogWriter(sink eventSink) *eventLogWriter {
	e := &eventLogWriter{sink: sink}
	e.cw = zerolog.ConsoleWriter{
		Out:           &e.buf,
		NoColor:       true,
		PartsOrder:    []string{zerolog.LevelFieldName, zerolog.MessageFieldName},
		FieldsExclude: []string{zerolog.TimestampFieldName},
		FormatLevel:   eventLevelWord,
		// Windows paths keep single backslashes.
		FormatFieldValue:    eventFieldValue,
		FormatErrFieldValue: eventFieldValue,
	}
	return e
}

// eventFieldValue writes a field's value for a person reading the event:
// ConsoleWriter hands it a string value Go-quoted when it holds a space, a
// quote, a backslash or a character beyond ASCII; such a value is quoted
// again only when a space, quote or control character needs it, and then
// with its backslashes left single, so that C:\ProgramData\cardbridge
// reads as Windows writes it.
func eventFieldValue(i any) string {
	var s string
	switch v := i.(type) {
	case string:
		s = v
	case []byte: // a number, boolean or object, as JSON
		return string(v)
	default:
		return fmt.Sprint(i)
	}
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	v, err := strconv.Unquote(s)
	if err != nil {
		return s
	}
	if !strings.ContainsFunc(v, func(r rune) bool { return r == ' ' || r == '"' || unicode.IsControl(r) }) {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case unicode.IsControl(r):
			b.WriteString(strings.Trim(strconv.QuoteRune(r), "'"))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// eventLevelWord spells a level the way the event's text starts.
func eventLevelWord(i any) string {
	s, _ := i.(string)
	switch s {
	case zerolog.LevelWarnValue:
		return "warning:"
	case "":
		return ""
	}
	return s + ":"
}

// Write drops a line without a level: it cannot be a warning.
func (e *eventLogWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteLevel reports p, a JSON log line, to the event log when l is a
// warning or worse.
func (e *eventLogWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < zerolog.WarnLevel || l == zerolog.NoLevel || l == zerolog.Disabled {
		return len(p), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	text, err := e.text(p)
	if err != nil {
		return 0, err
	}
	if l == zerolog.WarnLevel {
		err = e.sink.Warning(EventIDWarning, text)
	} else {
		err = e.sink.Error(EventIDError, text)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// text turns a JSON log line into the event's one line of text.
func (e *eventLogWriter) text(p []byte) (string, error) {
	e.buf.Reset()
	if _, err := e.cw.Write(p); err != nil {
		return "", err
	}
	s := strings.TrimSpace(e.buf.String())
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	if len(s) > maxEventText {
		cut := maxEventText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s, nil
}
