package portstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/portservice"
)

// fuzzSeeds are PortStore.txt files used to seed FuzzOpen.
var fuzzSeeds = []string{
	"",
	"\n",
	"uid:1000\t55000\t2026-01-01T00:00:00Z\n",
	"uid:1000\t55000\t2026-01-01T00:00:00Z\nS-1-5-21-1004336348-1177238915-682003330-1001\t55001\t2026-02-01T10:20:30Z\n",
	"uid:1000\t55000\t2026-01-01T00:00:00Z\r\nuid:1000\t55001\t2026-01-02T00:00:00Z\r\n",
	"uid:1\t55000\t2026-01-01T00:00:00Z\nuid:2\t55000\t2026-01-02T00:00:00Z\nuid:3\t55000\tbad\n",
	"uid:1\t54999\t2026-01-01T00:00:00Z\nuid:2\t56000\t2026-01-01T00:00:00Z\nuid:3\tx\t2026-01-01T00:00:00Z\n",
	"uid:1\t55000\t2099-01-01T00:00:00Z\nuid:2\t55001\t0000-01-01T00:00:00+01:00\nuid:3\t55002\t9999-12-31T23:59:59-01:00\n",
	"uid:1\t55000\t2026-01-01T00:00:00.999999999+14:00\nuid:2 055001  2026-01-01t00:00:00z\n",
	"\uFEFFuid:1\t55000\t2026-01-01T00:00:00Z",
	"uid:1\t55000\t2026-01-0",
	"\x00\x00\x00\x00\nuid:1\x00\t55000\t2026-01-01T00:00:00Z\n\xff\xfe\n",
	"S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14\t55999\t2026-01-01T00:00:00Z\n",
	"uid:1\t41234\t2026-01-01T00:00:00Z\toutside\nuid:2\t55001\t2026-01-01T00:00:00Z\toutside\nuid:3\t80\t2026-01-01T00:00:00Z\toutside\n",
	strings.Repeat("x", maxLineLen+1) + "\nuid:1\t55000\t2026-01-01T00:00:00Z\n",
}

func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, storeName)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var log logSink
		s := open(t, path, 0, 0, &log)
		got := s.Entries()
		seen := map[int]bool{}
		users := map[string]bool{}
		for _, e := range got {
			if seen[e.Port] || users[e.User] || e.Port < portservice.MinPort || e.Port > 65535 || !validUser(e.User) || e.LastSeen.After(testNow) {
				t.Fatalf("bad entry %v in %v", e, got)
			}
			seen[e.Port], users[e.User] = true, true
		}
		checkFile(t, path, defaultLo, defaultHi, got)

		var again logSink
		s2 := open(t, path, 0, 0, &again)
		if !entriesEqual(s2.Entries(), got) {
			t.Fatalf("reopened Entries() = %v, want %v", s2.Entries(), got)
		}
		if w := again.level("warn"); len(w) != 0 {
			t.Fatalf("reopening the rewritten file warned:\n%s", &again)
		}
	})
}

// FuzzParse checks parse alone, without the disk, so the fuzzer runs fast:
// whatever it keeps is valid and formats to a file that parses back to the
// same entries with no problems.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(defaultLo), uint16(defaultHi))
	}
	f.Fuzz(func(t *testing.T, data []byte, lo16, hi16 uint16) {
		lo, hi := int(lo16), int(hi16)
		if lo < 1 || lo > hi {
			return
		}
		rng := portservice.Range{Lo: lo, Hi: hi}
		got, probs := parse(data, false, rng, testNow)
		for _, p := range probs {
			if p.reason == "" || p.line < 1 {
				t.Fatalf("bad problem %+v", p)
			}
		}
		var text []byte
		for i, e := range got {
			out := !rng.Contains(e.Port)
			if (out && (e.Port < portservice.MinPort || e.Port > 65535)) || !validUser(e.User) || e.LastSeen.After(testNow) || (i > 0 && got[i-1].Port >= e.Port) {
				t.Fatalf("bad entry %v in %v", e, got)
			}
			text = appendEntry(text, e, out)
		}
		if len(probs) == 0 && string(text) != string(data) {
			t.Fatalf("no problems reported, yet the file is not canonical:\n%q\nwant %q", data, text)
		}
		again, probs := parse(text, false, rng, testNow)
		if len(probs) != 0 || !entriesEqual(again, got) {
			t.Fatalf("reparse: %v, %+v; want %v", again, probs, got)
		}
	})
}
