package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestJournalWriter: each line starts with the journal priority of its
// level, then the message and the fields; no time, one line a message.
func TestJournalWriter(t *testing.T) {
	var out bytes.Buffer
	log := zerolog.New(newJournalWriter(&out)).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	log.Debug().Str("reader", "R0").Msg("pcsc event")
	log.Info().Int("port", 43487).Msg("port service started")
	log.Warn().Str("origin", "https://my.esr.nhs.uk").Int("attempts_left", 2).Msg("wrong PIN")
	log.Error().Msg("two\nlines")
	want := []string{
		"<7>pcsc event reader=R0",
		"<6>port service started port=43487",
		"<4>wrong PIN attempts_left=2 origin=https://my.esr.nhs.uk",
		"<3>two lines",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestJournalStreamMatches: JOURNAL_STREAM names stderr only while it is
// the very stream systemd connected.
func TestJournalStreamMatches(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id := streamID(t, f)
	if id == "" {
		if journalStreamMatches("1:2", f) {
			t.Error("a journal stream matched where there is no journal")
		}
		t.Skip("no device and inode numbers here")
	}
	for env, want := range map[string]bool{id: true, "": false, "0:0": false, id + "1": false} {
		if got := journalStreamMatches(env, f); got != want {
			t.Errorf("JOURNAL_STREAM=%q: %v, want %v", env, got, want)
		}
	}
}
