package logging

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// event is one event an eventRecorder was given.
type event struct {
	kind string // "warning" or "error"
	id   uint32
	text string
}

// eventRecorder is an eventSink that keeps what it is given, to test what
// cardbridge hands the event log; Wine's real ReportEventW is the lane's
// (tests/winlane).
type eventRecorder struct {
	events []event
	fail   error
	closed bool
}

func (r *eventRecorder) Warning(id uint32, msg string) error {
	r.events = append(r.events, event{"warning", id, msg})
	return r.fail
}

func (r *eventRecorder) Error(id uint32, msg string) error {
	r.events = append(r.events, event{"error", id, msg})
	return r.fail
}

func (r *eventRecorder) Close() error { r.closed = true; return nil }

// TestEventLogWriter: warnings and errors become one event each, of their
// type and ID, whose text is the level, the message and the fields as
// key=value, with no time and on one line; debug and info lines are not
// reported.
func TestEventLogWriter(t *testing.T) {
	rec := &eventRecorder{}
	log := zerolog.New(newEventLogWriter(rec)).Level(zerolog.DebugLevel).With().Timestamp().Str("component", "portservice").Logger()
	log.Debug().Str("reader", "R0").Msg("pcsc event")
	log.Info().Int("port", 43487).Msg("port service started")
	log.Warn().Str("file", `C:\ProgramData\cardbridge\DomainList.txt`).Int("line", 2).Str("reason", "not an origin").Msg("dropping a bad DomainList line")
	log.Warn().Str("dir", `C:\Program Files\cardbridge`).Str("quoted", `say "hi"`).Str("user", "Zoë").Str("lines", "a\nb").Bool("ok", false).Msg("values")
	log.Error().Err(errors.New("access is denied")).Msg("two\r\nlines")
	log.WithLevel(zerolog.FatalLevel).Msg("cannot go on")
	log.Log().Msg("no level")
	want := []event{
		{"warning", EventIDWarning, `warning: dropping a bad DomainList line component=portservice file=C:\ProgramData\cardbridge\DomainList.txt line=2 reason="not an origin"`},
		{"warning", EventIDWarning, `warning: values component=portservice dir="C:\Program Files\cardbridge" lines="a\nb" ok=false quoted="say \"hi\"" user=Zoë`},
		{"error", EventIDError, `error: two lines error="access is denied" component=portservice`},
		{"error", EventIDError, `fatal: cannot go on component=portservice`},
	}
	if len(rec.events) != len(want) {
		t.Fatalf("events %+v, want %+v", rec.events, want)
	}
	for i := range want {
		if rec.events[i] != want[i] {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, rec.events[i], want[i])
		}
	}
}

// TestEventLogWriterLongLine: a line longer than an event should hold is
// cut at a character boundary and marked as cut.
func TestEventLogWriterLongLine(t *testing.T) {
	rec := &eventRecorder{}
	log := zerolog.New(newEventLogWriter(rec))
	log.Warn().Msg(strings.Repeat("é", maxEventText))
	if len(rec.events) != 1 {
		t.Fatalf("%d events, want 1", len(rec.events))
	}
	text := rec.events[0].text
	if !utf8.ValidString(text) || !strings.HasSuffix(text, "é…") || len(text) > maxEventText+len("…") {
		t.Errorf("a long line became %d bytes ending %q (valid UTF-8: %v)", len(text), text[len(text)-8:], utf8.ValidString(text))
	}
}

// TestEventLogWriterFailure: an event log that refuses a write is an error
// of that writer, which MultiLevelWriter reports, while the file still
// gets the line.
func TestEventLogWriterFailure(t *testing.T) {
	rec := &eventRecorder{fail: errors.New("the event log is full")}
	var file strings.Builder
	w := zerolog.MultiLevelWriter(&file, newEventLogWriter(rec))
	if _, err := w.WriteLevel(zerolog.WarnLevel, []byte(`{"level":"warn","message":"held"}`+"\n")); err == nil {
		t.Error("a refused event was not an error")
	}
	if !strings.Contains(file.String(), `"message":"held"`) {
		t.Errorf("the file got %q", file.String())
	}
}

// TestNewWithEventSource: New with an event source logs to the file as
// ever; where there is an event log (Windows) and the source is not
// registered, the file says so once, and nowhere else is there anything to
// say.
func TestNewWithEventSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portservice.log")
	no := false
	log, c, err := New(Options{File: path, Stderr: &no, EventSource: "cardbridge-test-not-registered"})
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Msg("a warning")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	notices := strings.Count(string(b), "event log is unavailable")
	want := 0
	if hasEventLog {
		want = 1
	}
	if notices != want || !strings.Contains(string(b), `"message":"a warning"`) {
		t.Errorf("log file (want %d notices of the unavailable event log, and the warning):\n%s", want, b)
	}
	if hasEventLog && !strings.Contains(string(b), `cardbridge-test-not-registered is not registered`) {
		t.Errorf("the notice does not say why:\n%s", b)
	}
}
