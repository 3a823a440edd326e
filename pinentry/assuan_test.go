package pinentry

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestEscapeArg(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "https://my.esr.nhs.uk asks", 100, "https://my.esr.nhs.uk asks"},
		{"percent", "100% sure", 100, "100%25 sure"},
		{"newlines", "a\nb\r\nc", 100, "a%0Ab%0D%0Ac"},
		{"controls", "a\x00b\tc\x7f", 100, "a%00b%09c%7F"},
		{"leading space", " a b ", 100, "%20a b "},
		{"utf8 kept", "Zoë’s card", 100, "Zoë’s card"},
		{"invalid utf8", "a\xffb", 100, "a\uFFFDb"},
		{"cut", "abcdef", 4, "abcd"},
		{"cut before escape", "abc%", 5, "abc"},
		{"cut before rune", "ab€", 4, "ab"},
		{"empty", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapeArg(tc.in, tc.max); got != tc.want {
				t.Errorf("escapeArg(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestUnescapeAppend(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		cap      int
		want     string
		err      error
	}{
		{"plain", "917364", 16, "917364", nil},
		{"escapes", "9%25%0A%0d%41", 16, "9%\n\rA", nil},
		{"plus is literal", "a+b", 16, "a+b", nil},
		{"truncated escape", "12%4", 16, "", errBadEscape},
		{"bare percent", "12%", 16, "", errBadEscape},
		{"not hex", "12%G1", 16, "", errBadEscape},
		{"too long", "12345", 4, "", errDataTooLong},
		{"fits exactly", "1234", 4, "1234", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 0, tc.cap)
			got, err := unescapeAppend(buf, []byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("unescapeAppend(%q) error %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && string(got) != tc.want {
				t.Errorf("unescapeAppend(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if cap(got) != tc.cap || (len(got) > 0 && &got[0] != &buf[:1][0]) {
				t.Errorf("unescapeAppend grew or moved the buffer")
			}
		})
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind kind
		code uint32
		text string
	}{
		{"OK", kindOK, 0, ""},
		{"OK Pleased to meet you", kindOK, 0, "Pleased to meet you"},
		{"ERR 83886179 Operation cancelled <Pinentry>", kindErr, 83886179, "Operation cancelled <Pinentry>"},
		{"ERR 62", kindErr, 62, ""},
		{"D 12%2534", kindData, 0, "12%2534"},
		{"D ", kindData, 0, ""},
		{"S PROGRESS 1", kindStatus, 0, "PROGRESS 1"},
		{"INQUIRE QUALITY 12", kindInquire, 0, "QUALITY 12"},
		{"# a comment", kindComment, 0, " a comment"},
		{"#", kindComment, 0, ""},
		{"", 0, 0, ""},
		{"OKAY", 0, 0, ""},
		{"ok", 0, 0, ""},
		{"D", 0, 0, ""},
		{"S", 0, 0, ""},
		{"INQUIRE", 0, 0, ""},
		{"ERR", 0, 0, ""},
		{"ERR x", 0, 0, ""},
		{"ERR -1", 0, 0, ""},
		{"ERR 4294967296", 0, 0, ""},
		{"ERR 99999999999999999999", 0, 0, ""},
		{"\x00\xff junk", 0, 0, ""},
		{"END", 0, 0, ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := parseResponse([]byte(tc.in))
			if tc.kind == 0 {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("parseResponse(%q) = %+v, %v; want errMalformed", tc.in, r, err)
				}
				return
			}
			if err != nil || r.kind != tc.kind || r.code != tc.code || string(r.text) != tc.text {
				t.Errorf("parseResponse(%q) = {%d %d %q}, %v; want {%d %d %q}", tc.in, r.kind, r.code, r.text, err, tc.kind, tc.code, tc.text)
			}
		})
	}
}

func TestIsCancel(t *testing.T) {
	for code, want := range map[uint32]bool{
		83886179:   true,  // Pinentry: Operation cancelled
		83886142:   true,  // Pinentry: Timeout
		83886194:   true,  // Pinentry: Not confirmed
		99:         true,  // no source
		83886278:   true,  // Pinentry: Operation fully cancelled
		83918950:   false, // Pinentry: Inappropriate ioctl for device
		536871187:  false, // Unknown IPC command
		0x63 << 16: false, // 99 in the wrong bits
	} {
		if got := isCancel(code); got != want {
			t.Errorf("isCancel(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestLineReader(t *testing.T) {
	t.Run("lines", func(t *testing.T) {
		in := "OK hello\r\nD 12\n\nS X\nlast"
		lr := &lineReader{r: iotest.OneByteReader(strings.NewReader(in))}
		var got []string
		for {
			line, err := lr.next()
			if err != nil {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("final error %v, want io.ErrUnexpectedEOF for the unterminated line", err)
				}
				break
			}
			got = append(got, string(line))
		}
		want := []string{"OK hello", "D 12", "", "S X"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("lines %q, want %q", got, want)
		}
	})
	t.Run("clean EOF", func(t *testing.T) {
		lr := &lineReader{r: strings.NewReader("OK\n")}
		if _, err := lr.next(); err != nil {
			t.Fatal(err)
		}
		if _, err := lr.next(); err != io.EOF {
			t.Errorf("error %v, want io.EOF", err)
		}
	})
	t.Run("too long", func(t *testing.T) {
		lr := &lineReader{r: strings.NewReader(strings.Repeat("x", maxLine) + "\n")}
		if _, err := lr.next(); !errors.Is(err, errLineTooLong) {
			t.Errorf("error %v, want errLineTooLong", err)
		}
	})
	t.Run("longest", func(t *testing.T) {
		lr := &lineReader{r: strings.NewReader(strings.Repeat("x", maxLine-1) + "\nOK\n")}
		if line, err := lr.next(); err != nil || len(line) != maxLine-1 {
			t.Fatalf("got %d bytes, %v", len(line), err)
		}
		if line, err := lr.next(); err != nil || string(line) != "OK" {
			t.Fatalf("got %q, %v", line, err)
		}
	})
	t.Run("wiped", func(t *testing.T) {
		lr := &lineReader{r: strings.NewReader("D 917364\nOK\n")}
		line, _ := lr.next()
		clear(line)
		lr.next()
		if bytes.Contains(lr.buf[:], []byte("917364")) {
			t.Error("buffer still holds the PIN after the line was cleared")
		}
		lr.wipe()
		if !bytes.Equal(lr.buf[:], make([]byte, maxLine)) {
			t.Error("wipe left bytes behind")
		}
	})
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 100, "plain"},
		{"  two\n\nlines \x1b[31m ", 100, "two lines [31m"},
		{"\xffbad", 100, "?bad"},
		{strings.Repeat("ab", 100), 10, "ababababab"},
		{"€€€", 7, "€€"},
	} {
		if got := sanitize(tc.in, tc.max); got != tc.want {
			t.Errorf("sanitize(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// FuzzParseResponse feeds arbitrary lines to the response parser and the D
// line decoder: they must never panic, never grow the data buffer, and agree
// with the escaper.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"OK", "OK Pleased to meet you, process 42", "ERR 83886179 Operation cancelled <Pinentry>",
		"D 917364", "D 12%25%0A", "D %", "D %4", "S PROGRESS", "INQUIRE QUALITY x", "# hi",
		"ERR 4294967295", "ERR 4294967296 x", "", "\x00", "D " + strings.Repeat("%41", 50),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseResponse(line)
		if err != nil {
			if r.kind != 0 {
				t.Fatalf("error %v with kind %d", err, r.kind)
			}
			return
		}
		if r.kind == kindData {
			buf := make([]byte, 0, 64)
			out, err := unescapeAppend(buf, r.text)
			if cap(out) != 64 {
				t.Fatalf("buffer grew to %d", cap(out))
			}
			if err == nil && utf8.Valid(out) {
				esc := escapeArg(string(out), 1<<20)
				back, err := unescapeAppend(make([]byte, 0, len(out)+1), []byte(esc))
				if err != nil || !bytes.Equal(back, out) {
					t.Fatalf("escape round trip of %q: %q, %v", out, back, err)
				}
			}
		}
	})
}

// FuzzEscapeRoundTrip checks that whatever the client escapes decodes back
// to the same text, that the result is one line, and that it respects max.
func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "100%", "a\nb", " lead", "https://my.esr.nhs.uk asks\n\n3 attempts left", "é€😀"} {
		f.Add(s, 1000)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		esc := escapeArg(s, max)
		if len(esc) > max {
			t.Fatalf("escapeArg(%q, %d) is %d bytes", s, max, len(esc))
		}
		if strings.ContainsAny(esc, "\r\n\x00") || strings.HasPrefix(esc, " ") {
			t.Fatalf("escapeArg(%q) = %q is not one clean line", s, esc)
		}
		back, err := unescapeAppend(make([]byte, 0, len(esc)), []byte(esc))
		if err != nil {
			t.Fatalf("unescape %q: %v", esc, err)
		}
		if !utf8.ValidString(s) {
			return
		}
		if !strings.HasPrefix(s, string(back)) {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
		if len(esc)+utf8.UTFMax <= max && string(back) != s {
			t.Fatalf("round trip of %q gave %q though it was not cut", s, back)
		}
	})
}
