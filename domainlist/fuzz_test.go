package domainlist

import (
	"slices"
	"strings"
	"testing"
)

// maxFuzzLen bounds fuzz inputs: the fuzzer's minimiser is quadratic in the input
// length and stalls fuzzing for many seconds on each new input of a kilobyte or
// more. TestParseLimits covers long lines and big files.
const maxFuzzLen = 256

// fuzzLists are DomainList files used to seed both fuzz targets.
var fuzzLists = []string{
	"",
	realistic[:len(realistic)/3],
	realistic[len(realistic)/3 : 2*len(realistic)/3],
	realistic[2*len(realistic)/3:],
	benchList(4),
	"# version: 1\nhttps://my.esr.nhs.uk\nhttps://*.spineservices.nhs.uk\n",
	"\ufeff#Version:x\r\nHTTPS://*.Example.ORG:443/\r\n",
	"http://localhost:8080\nhttp://127.0.0.1:8080\nhttp://[::1]:8080\n",
	"https://bücher.example\nhttps://*.ｅｘａｍｐｌｅ。org\nhttps://xn--bcher-kva.example\n",
	"*\n*.\nhttps://*\nhttps://*.uk\nhttps://*.co.uk\nhttps://*.nhs.uk\nhttps://*.github.io\n",
	"https://a.example/#frag\nhttps://user@a.example\nhttps://a.example:0\nhttps://a.example:65536\n",
	"https://[fe80::1%25eth0]\nhttps://[::ffff:127.0.0.1]\nhttps://*.127.0.0.1\nhttp://0x7f.1\n",
	"https://a..b\nhttps://a.b.\nhttps://-a.b\nhttps://xn--zz.b\n\x00\xff\xfe\n",
	"# version: \t v \r\n\r\n\n#\n#version\n",
	"https://my.esr.nhs.uk https://evil.example\n",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzLists {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzLen {
			return
		}
		l, errs := Parse(data)
		if l == nil {
			t.Fatal("Parse returned a nil List")
		}
		for _, e := range errs {
			if e.Line < 1 || e.Err == nil {
				t.Fatalf("bad LineError %+v", e)
			}
			_ = e.Error()
		}
		out := l.Format()
		again, errs := Parse(out)
		if len(errs) != 0 {
			t.Fatalf("Parse(Format()) has bad lines %v\nFormat() = %q", errs, out)
		}
		if again.Version() != l.Version() {
			t.Fatalf("Parse(Format()).Version() = %q, want %q", again.Version(), l.Version())
		}
		if !slices.Equal(again.Patterns(), l.Patterns()) {
			t.Fatalf("Parse(Format()).Patterns() = %v, want %v", again.Patterns(), l.Patterns())
		}
		for _, p := range l.Patterns() {
			back, err := ParsePattern(p.String())
			if err != nil || back != p {
				t.Fatalf("ParsePattern(%q) = %+v, %v; want %+v", p.String(), back, err, p)
			}
			if p.Scheme != "https" && p.Scheme != "http" || p.Port < 0 || p.Port > 65535 ||
				p.Host == "" || p.Host != strings.ToLower(p.Host) || !isASCII(p.Host) {
				t.Fatalf("pattern %+v is not canonical", p)
			}
			// The list allows the origin each pattern names: the host itself, or for
			// a wildcard one label in front of it (and the pattern not the host itself).
			port := p.Port
			if port == 0 {
				port = defaultPort(p.Scheme == "https")
			}
			o := Origin{Scheme: p.Scheme, Host: p.Host, Port: port}
			if p.matches(o) == p.Wildcard {
				t.Fatalf("%v.matches(%+v) = %v", p, o, !p.Wildcard)
			}
			if p.Wildcard {
				o.Host = "a." + p.Host
				if len(o.Host) > maxHostLen {
					continue
				}
				if !p.matches(o) {
					t.Fatalf("%v.matches(%+v) = false", p, o)
				}
			}
			if !l.Allows(o.String()) {
				t.Fatalf("Allows(%q) = false with pattern %v in the list", o.String(), p)
			}
		}
	})
}

func FuzzAllows(f *testing.F) {
	origins := []string{
		"https://my.esr.nhs.uk", "HTTPS://MY.ESR.NHS.UK", "https://a.spineservices.nhs.uk",
		"https://spineservices.nhs.uk", "https://my.esr.nhs.uk.", "https://my.esr.nhs.uk.evil.example",
		"https://evilmy.esr.nhs.uk", "https://my-esr.nhs.uk", "null", "", "https://my.esr.nhs.uk/",
		"https://user@my.esr.nhs.uk", "http://localhost:8080", "http://[::1]:8080", "http://[0::1]:8080",
		"https://host3.example.nhs.uk:443", "https://x.sub4.example.nhs.uk", "https://a..sub4.example.nhs.uk",
		"https://xn--bcher-kva.example", "http://127.0.0.1:8080", "http://127.1:8080",
	}
	for i, o := range origins {
		f.Add(o, fuzzLists[i%len(fuzzLists)])
	}
	f.Fuzz(func(t *testing.T, origin, list string) {
		if len(origin)+len(list) > maxFuzzLen {
			return
		}
		l, _ := Parse([]byte(list))
		got := l.Allows(origin)
		o, err := parseOrigin(origin, true)
		if err != nil {
			if got {
				t.Fatalf("Allows(%q) = true, but parseOrigin fails: %v", origin, err)
			}
			return
		}
		matched := slices.ContainsFunc(l.Patterns(), func(p Pattern) bool { return p.matches(o) })
		if got != matched {
			t.Fatalf("Allows(%q) = %v, but some pattern matches %+v = %v (patterns %v)", origin, got, o, matched, l.Patterns())
		}
		if l.allowsOrigin(o) != got {
			t.Fatalf("allowsOrigin(%+v) = %v, Allows(%q) = %v", o, !got, origin, got)
		}
		if o.Host != strings.ToLower(o.Host) {
			t.Fatalf("parseOrigin(%q).Host = %q is not lower-case", origin, o.Host)
		}
	})
}
