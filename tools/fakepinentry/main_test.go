package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "917364", "9%1\n7\r3", "%25", "\x01\x7f", "é€"} {
		esc := escape(s)
		if strings.ContainsAny(esc, "\r\n") {
			t.Errorf("escape(%q) = %q spans lines", s, esc)
		}
		if back, ok := unescape(esc); !ok || back != s {
			t.Errorf("unescape(escape(%q)) = %q, %v", s, back, ok)
		}
	}
	for _, bad := range []string{"%", "%4", "%G1", "a%zz"} {
		if _, ok := unescape(bad); ok {
			t.Errorf("unescape(%q) accepted a broken escape", bad)
		}
	}
}

// TestServe runs a whole conversation and checks both what the client sees
// and what the log says.
func TestServe(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := "SETDESC 100%25 sure%0Atwo lines\nSETTIMEOUT 5\nFROB\nGETPIN\nBYE\nNOP\n"
	var out bytes.Buffer
	s := &server{
		cfg: config{pin: "9%1\n7", mode: "pin", reject: map[string]bool{}},
		in:  bufio.NewReader(strings.NewReader(in)), out: &out, stderr: io.Discard, log: f,
	}
	if status := s.serve(); status != 0 {
		t.Fatalf("status %d", status)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"OK", "OK", "ERR 536871187", "D 9%251%0A7", "OK", "OK closing connection"}
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "OK Pleased to meet you") {
		t.Fatalf("answers %q", lines)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i+1], w) {
			t.Errorf("answer %d is %q, want %q", i, lines[i+1], w)
		}
	}
	data, _ := os.ReadFile(log)
	got := strings.SplitN(string(data), "\n", 2)[1]
	if wantLog := "SETDESC \"100% sure\\ntwo lines\"\nSETTIMEOUT \"5\"\nFROB\nGETPIN\nBYE\n"; got != wantLog {
		t.Errorf("log:\n%s\nwant:\n%s", got, wantLog)
	}
	if strings.Contains(string(data), "9%1") {
		t.Error("the log holds the PIN")
	}
}
