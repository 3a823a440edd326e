package domainlist

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// mustParse parses text and fails the test on any bad line.
func mustParse(t testing.TB, text string) *List {
	t.Helper()
	l, errs := Parse([]byte(text))
	if len(errs) != 0 {
		t.Fatalf("Parse: unexpected bad lines: %v", errs)
	}
	return l
}

func TestAllows(t *testing.T) {
	l := mustParse(t, `# version: 1
https://my.esr.nhs.uk
https://*.spineservices.nhs.uk
http://localhost:8080
https://portal.example.org:8443
http://plain.example.org
https://[::1]:9443
http://127.0.0.1:9000
`)
	tests := []struct {
		origin string
		want   bool
	}{
		// Exact.
		{"https://my.esr.nhs.uk", true},
		{"https://my.esr.nhs.uk:443", true},
		{"HTTPS://MY.ESR.NHS.UK", true},
		{"https://My.Esr.Nhs.Uk", true},
		{"https://esr.nhs.uk", false},
		{"https://www.my.esr.nhs.uk", false},
		// Wildcard: one and several labels, never the bare domain.
		{"https://portal.spineservices.nhs.uk", true},
		{"https://a.b.c.spineservices.nhs.uk", true},
		{"https://PORTAL.SpineServices.nhs.uk", true},
		{"https://spineservices.nhs.uk", false},
		{"https://.spineservices.nhs.uk", false},
		{"https://a..spineservices.nhs.uk", false},
		{"https://portal.spineservices.nhs.uk:8443", false},
		{"http://portal.spineservices.nhs.uk", false},
		// Ports both ways.
		{"http://localhost:8080", true},
		{"http://localhost", false},
		{"http://localhost:80", false},
		{"http://localhost:8081", false},
		{"https://portal.example.org:8443", true},
		{"https://portal.example.org", false},
		{"https://my.esr.nhs.uk:8443", false},
		{"http://plain.example.org", true},
		{"http://plain.example.org:80", true},
		{"http://plain.example.org:443", false},
		// Scheme mismatch.
		{"http://my.esr.nhs.uk", false},
		{"https://localhost:8080", false},
		{"https://plain.example.org", false},
		{"wss://my.esr.nhs.uk", false},
		// IP literals.
		{"https://[::1]:9443", true},
		{"https://[0:0:0:0:0:0:0:1]:9443", true},
		{"https://[::1]", false},
		{"http://127.0.0.1:9000", true},
		{"http://127.0.0.1:9001", false},
		// Evil look-alikes.
		{"https://my.esr.nhs.uk.evil.example", false},
		{"https://evilmy.esr.nhs.uk", false},
		{"https://my-esr.nhs.uk", false},
		{"https://my.esr.nhs.uk.", false},
		{"https://x.spineservices.nhs.uk.", false},
		{"https://spineservices.nhs.uk.evil.example", false},
		{"https://evilspineservices.nhs.uk", false},
		{"https://x.spineservices.nhs.uk.evil.example", false},
		{"https://user@my.esr.nhs.uk", false},
		{"https://my.esr.nhs.uk@evil.example", false},
		{"https://evil.example#my.esr.nhs.uk", false},
		{"https://evil.example/my.esr.nhs.uk", false},
		{"https://my.esr.nhs.uk/", false},
		{"https://my.esr.nhs.uk\x00", false},
		{"https://my.esr.nhs.uk:443:443", false},
		// Not origins at all.
		{"null", false},
		{"", false},
		{"my.esr.nhs.uk", false},
		{"*", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			if got := l.Allows(tt.origin); got != tt.want {
				t.Errorf("Allows(%q) = %v, want %v", tt.origin, got, tt.want)
			}
			// allowsOrigin and Pattern.matches must agree with Allows.
			o, err := parseOrigin(tt.origin, true)
			if err != nil {
				if tt.want {
					t.Fatalf("parseOrigin(%q): %v", tt.origin, err)
				}
				return
			}
			if got := l.allowsOrigin(o); got != tt.want {
				t.Errorf("allowsOrigin(%+v) = %v, want %v", o, got, tt.want)
			}
			matched := slices.ContainsFunc(l.Patterns(), func(p Pattern) bool { return p.matches(o) })
			if matched != tt.want {
				t.Errorf("some Pattern.matches(%+v) = %v, want %v", o, matched, tt.want)
			}
		})
	}
}

func TestAllowsNilAndEmpty(t *testing.T) {
	var nilList *List
	for name, l := range map[string]*List{"nil": nilList, "Empty": Empty(), "Parse(nil)": mustParse(t, "")} {
		t.Run(name, func(t *testing.T) {
			if l.Allows("https://my.esr.nhs.uk") {
				t.Error("Allows = true, want false")
			}
			if l.allowsOrigin(Origin{"https", "my.esr.nhs.uk", 443}) {
				t.Error("allowsOrigin = true, want false")
			}
			if l.Len() != 0 || len(l.Patterns()) != 0 || l.Version() != "" || len(l.Format()) != 0 {
				t.Errorf("Len %d, Patterns %v, Version %q, Format %q; want all empty", l.Len(), l.Patterns(), l.Version(), l.Format())
			}
		})
	}
}

const realistic = "\ufeff# Version:   2026.03-1  \r\n" +
	"# NHS DomainList for cardbridge\r\n" +
	"\r\n" +
	"https://my.esr.nhs.uk   # ESR\r\n" +
	"https://*.spineservices.nhs.uk\r\n" +
	"   \t\r\n" +
	"ftp://files.nhs.uk\r\n" +
	"HTTPS://MY.ESR.NHS.UK/\r\n" +
	"https://*.nhs.uk\r\n" +
	"https://portal.national.ncrs.nhs.uk:443\r\n" +
	"*\r\n" +
	"https://*.spineservices.nhs.uk:443 # duplicate\r\n" +
	"http://localhost:8080\r\n" +
	"https://ersapi.nhs.uk/path/page.html\r\n" +
	"   # indented comment\r\n" +
	"https://bücher.example\r\n" +
	"https://*.co.uk # wildcard over a public suffix\r\n" +
	"http://[::1]:8080\r\n" +
	"https://pds.nhs.uk:0\r\n" +
	"# version: not-a-version-line-any-more\r\n" +
	"https://last.nhs.uk" // no final line ending

func TestParseRealistic(t *testing.T) {
	l, errs := Parse([]byte(realistic))
	if got, want := l.Version(), "2026.03-1"; got != want {
		t.Errorf("Version() = %q, want %q", got, want)
	}
	var got []string
	for _, p := range l.Patterns() {
		got = append(got, p.String())
	}
	want := []string{
		"https://my.esr.nhs.uk",
		"https://*.spineservices.nhs.uk",
		"https://portal.national.ncrs.nhs.uk",
		"http://localhost:8080",
		"https://xn--bcher-kva.example",
		"http://[::1]:8080",
		"https://last.nhs.uk",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Patterns() =\n%q\nwant\n%q", got, want)
	}
	if l.Len() != len(want) {
		t.Errorf("Len() = %d, want %d", l.Len(), len(want))
	}
	wantErrs := []struct {
		line    int
		mention string
	}{
		{7, `scheme "ftp"`},
		{9, `"nhs.uk" is a public suffix`},
		{11, "missing scheme"},
		{14, "path"},
		{17, `"co.uk" is a public suffix`},
		{19, "out of range"},
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("got %d bad lines, want %d: %v", len(errs), len(wantErrs), errs)
	}
	for i, w := range wantErrs {
		e := errs[i]
		if e.Line != w.line || !strings.Contains(e.Error(), w.mention) {
			t.Errorf("bad line %d = %q (line %d), want line %d mentioning %q", i, e.Error(), e.Line, w.line, w.mention)
		}
		if e.Text == "" || strings.ContainsAny(e.Text, "\r\n") || e.Text != strings.TrimSpace(e.Text) {
			t.Errorf("bad line %d Text = %q, want the trimmed line", i, e.Text)
		}
	}
	if got, want := errs[5].Error(), `line 19: port out of range 1-65535 (got "0"): "https://pds.nhs.uk:0"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !l.Allows("https://my.esr.nhs.uk") || !l.Allows("https://a.spineservices.nhs.uk") || l.Allows("https://files.nhs.uk") {
		t.Error("parsed list does not allow what its good lines say")
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"plain", "# version: 7\nhttps://a.example\n", "7"},
		{"case and spaces", "#   VERSION  :   7 b  \n", "7 b"},
		{"no space", "#version:7", "7"},
		{"after blank lines", "\n  \n# version: 7\n", "7"},
		{"after BOM", "\ufeff# version: 7\n", "7"},
		{"empty value", "# version:\n", ""},
		{"not first", "https://a.example\n# version: 7\n", ""},
		{"after a comment", "# list\n# version: 7\n", ""},
		{"no colon", "# version 7\n", ""},
		{"other word", "# versions: 7\n", ""},
		{"absent", "https://a.example\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, tt.text)
			if got := l.Version(); got != tt.want {
				t.Errorf("Version() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseHostile(t *testing.T) {
	garbage := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	tests := []struct {
		name     string
		data     []byte
		patterns int
	}{
		{"nil", nil, 0},
		{"empty", []byte{}, 0},
		{"only BOM", []byte("\ufeff"), 0},
		{"only newlines", []byte("\n\r\n\n"), 0},
		{"binary garbage", garbage, 0},
		{"NUL bytes", []byte("https://a.example\x00\n\x00\x00\x00\nhttps://b.example\n"), 1},
		{"truncated mid-line", []byte("https://a.example\nhttps://b.exa"), 2},
		{"truncated mid-scheme", []byte("https://a.example\nhtt"), 1},
		{"truncated UTF-8", []byte("https://a.example\nhttps://b\xc3"), 1},
		{"lone CR", []byte("https://a.example\rhttps://b.example\n"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, errs := Parse(tt.data)
			if l == nil {
				t.Fatal("Parse returned a nil List")
			}
			if l.Len() != tt.patterns {
				t.Errorf("Len() = %d, want %d (%v)", l.Len(), tt.patterns, l.Patterns())
			}
			for _, e := range errs {
				if e.Line < 1 || e.Err == nil || e.Error() == "" {
					t.Errorf("bad LineError %+v", e)
				}
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("long line", func(t *testing.T) {
		long := "https://a.example/" + strings.Repeat("x", 2100)
		l, errs := Parse([]byte("https://a.example\n" + long + "\nhttps://b.example\n"))
		if l.Len() != 2 || len(errs) != 1 || errs[0].Line != 2 || !strings.Contains(errs[0].Error(), "longer than 2048") {
			t.Fatalf("Len %d, errs %v", l.Len(), errs)
		}
		if len(errs[0].Error()) > 200 {
			t.Errorf("Error() is %d bytes, want it shortened", len(errs[0].Error()))
		}
	})
	t.Run("long comment", func(t *testing.T) {
		_, errs := Parse([]byte("# " + strings.Repeat("x", 2100) + "\n"))
		if len(errs) != 1 || errs[0].Line != 1 {
			t.Fatalf("errs %v, want one for line 1", errs)
		}
	})
	t.Run("long version", func(t *testing.T) {
		l, errs := Parse([]byte("# version: " + strings.Repeat("v", 300) + "\n"))
		if l.Version() != "" || len(errs) != 1 || !strings.Contains(errs[0].Error(), "version is longer") {
			t.Fatalf("Version %q, errs %v", l.Version(), errs)
		}
	})
	t.Run("over 1 MiB", func(t *testing.T) {
		var b bytes.Buffer
		b.WriteString("https://first.example\n")
		line := "# " + strings.Repeat("c", 97) + "\n" // 100 bytes
		for b.Len()+len(line) <= maxFileSize-10 {
			b.WriteString(line)
		}
		if pad := maxFileSize - 10 - b.Len(); pad >= 2 {
			b.WriteString("#" + strings.Repeat("p", pad-2) + "\n")
		}
		lines := bytes.Count(b.Bytes(), []byte("\n"))
		// This pattern straddles the 1 MiB mark: it must be dropped whole, not cut
		// to "https://cut.exam".
		b.WriteString("https://cut.example.org\n")
		b.WriteString("https://after.example\n")
		l, errs := Parse(b.Bytes())
		if got := l.Patterns(); len(got) != 1 || got[0].Host != "first.example" {
			t.Errorf("Patterns() = %v, want only first.example", got)
		}
		if len(errs) != 1 || errs[0].Line != lines+1 || !errors.Is(errs[0], errFileTooBig) || !strings.Contains(errs[0].Error(), "1 MiB") {
			t.Fatalf("errs %v, want one 1 MiB error at line %d", errs, lines+1)
		}
		if !strings.HasPrefix(errs[0].Text, "https://cut.example.org") {
			t.Errorf("Text = %q, want the first ignored line", errs[0].Text)
		}
	})
	t.Run("too many bad lines", func(t *testing.T) {
		var b strings.Builder
		for range 250 {
			b.WriteString("bad\n")
		}
		_, errs := Parse([]byte(b.String()))
		if len(errs) != maxLineErrors+1 {
			t.Fatalf("got %d LineErrors, want %d", len(errs), maxLineErrors+1)
		}
		last := errs[len(errs)-1]
		if last.Line != maxLineErrors+1 || last.Error() != "line 101: 150 more bad lines not listed" {
			t.Errorf("last = %q", last.Error())
		}
	})
	t.Run("too many patterns", func(t *testing.T) {
		var b strings.Builder
		for i := range maxPatterns + 2 {
			fmt.Fprintf(&b, "https://h%d.example\n", i)
		}
		l, errs := Parse([]byte(b.String()))
		if l.Len() != maxPatterns || len(errs) != 2 || errs[0].Line != maxPatterns+1 {
			t.Fatalf("Len %d, errs %v", l.Len(), errs)
		}
	})
}

func TestLineErrorError(t *testing.T) {
	tests := []struct {
		e    LineError
		want string
	}{
		{LineError{3, "ftp://x", errors.New("bad scheme")}, `line 3: bad scheme: "ftp://x"`},
		{LineError{4, "", errors.New("gone")}, `line 4: gone`},
		{LineError{5, strings.Repeat("é", 50), errors.New("e")}, `line 5: e: "` + strings.Repeat("é", 40) + `..."`},
		{LineError{6, "a\x00b", errors.New("e")}, `line 6: e: "a\x00b"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"realistic", realistic, "# version: 2026.03-1\n" +
			"https://my.esr.nhs.uk\n" +
			"https://*.spineservices.nhs.uk\n" +
			"https://portal.national.ncrs.nhs.uk\n" +
			"http://localhost:8080\n" +
			"https://xn--bcher-kva.example\n" +
			"http://[::1]:8080\n" +
			"https://last.nhs.uk\n"},
		{"no version", "https://a.example:8443/\n", "https://a.example:8443\n"},
		{"empty", "", ""},
		{"only version", "#version:x", "# version: x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := Parse([]byte(tt.text))
			out := l.Format()
			if string(out) != tt.want {
				t.Errorf("Format() =\n%s\nwant\n%s", out, tt.want)
			}
			again := mustParse(t, string(out))
			if again.Version() != l.Version() || !slices.Equal(again.Patterns(), l.Patterns()) {
				t.Errorf("Parse(Format()) = %q %v, want %q %v", again.Version(), again.Patterns(), l.Version(), l.Patterns())
			}
			if !bytes.Equal(again.Format(), out) {
				t.Errorf("Format is not stable: %q then %q", out, again.Format())
			}
		})
	}
}

func TestPatternsIsACopy(t *testing.T) {
	l := mustParse(t, "https://a.example\n")
	ps := l.Patterns()
	ps[0].Host = "evil.example"
	if l.Allows("https://evil.example") || !l.Allows("https://a.example") {
		t.Error("changing the slice from Patterns changed the List")
	}
}

func TestAllowsConcurrent(t *testing.T) {
	l := mustParse(t, benchList(50))
	origins := []string{
		"https://host7.example.nhs.uk", "https://deep.sub12.example.nhs.uk", "https://evil.example",
		"null", "HTTPS://HOST3.EXAMPLE.NHS.UK", "https://host7.example.nhs.uk:8443",
	}
	want := make([]bool, len(origins))
	for i, o := range origins {
		want[i] = l.Allows(o)
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 2000 {
				k := (g + i) % len(origins)
				if got := l.Allows(origins[k]); got != want[k] {
					t.Errorf("Allows(%q) = %v, want %v", origins[k], got, want[k])
					return
				}
				_ = l.Patterns()
				_ = l.Version()
			}
		})
	}
	wg.Wait()
}

// benchList returns a DomainList of n patterns, a quarter of them wildcards.
func benchList(n int) string {
	var b strings.Builder
	b.WriteString("# version: bench\n")
	for i := range n {
		if i%4 == 0 {
			fmt.Fprintf(&b, "https://*.sub%d.example.nhs.uk\n", i)
		} else {
			fmt.Fprintf(&b, "https://host%d.example.nhs.uk\n", i)
		}
	}
	return b.String()
}

func BenchmarkAllows(b *testing.B) {
	l := mustParse(b, benchList(50))
	for _, bc := range []struct {
		name, origin string
		want         bool
	}{
		{"exact hit", "https://host49.example.nhs.uk", true},
		{"wildcard hit", "https://deep.a.sub48.example.nhs.uk", true},
		{"miss", "https://my.esr.nhs.uk.evil.example", false},
		{"miss port", "https://host49.example.nhs.uk:8443", false},
		{"null", "null", false},
		{"upper-case hit", "HTTPS://HOST49.EXAMPLE.NHS.UK", true},
		{"ipv6 miss", "http://[::1]:8080", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if got := l.Allows(bc.origin); got != bc.want {
				b.Fatalf("Allows(%q) = %v, want %v", bc.origin, got, bc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				l.Allows(bc.origin)
			}
		})
	}
}

func TestAllowsDoesNotAllocate(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are not meaningful here")
	}
	l := mustParse(t, benchList(50))
	for _, o := range []string{"https://host49.example.nhs.uk", "https://deep.a.sub48.example.nhs.uk", "https://evil.example", "null", "http://[::1]:8080", "bad", "HTTPS://HOST49.Example.NHS.UK"} {
		if n := testing.AllocsPerRun(100, func() { l.Allows(o) }); n != 0 {
			t.Errorf("Allows(%q) allocates %v times, want 0", o, n)
		}
	}
}

func TestBuiltinAndEntries(t *testing.T) {
	b := Builtin()
	if got, want := b.Entries(), []string{"https://my.esr.nhs.uk", "https://*.spineservices.nhs.uk"}; !slices.Equal(got, want) {
		t.Fatalf("Builtin().Entries() = %q, want %q", got, want)
	}
	if b.Version() != "builtin-1" || !b.Allows("https://my.esr.nhs.uk") || b.Allows("https://evil.example") {
		t.Fatalf("the built-in list is not the NHS one: version %q", b.Version())
	}
	var nilList *List
	if e := nilList.Entries(); e == nil || len(e) != 0 {
		t.Fatalf("nil list Entries() = %#v, want an empty non-nil slice", e)
	}
	if e := Empty().Entries(); e == nil || len(e) != 0 {
		t.Fatalf("Empty().Entries() = %#v, want an empty non-nil slice", e)
	}
}
