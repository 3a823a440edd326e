package domainlist

import (
	"strings"
	"testing"
)

func TestParsePatternGood(t *testing.T) {
	tests := []struct {
		in   string
		want Pattern
		str  string
	}{
		{"https://my.esr.nhs.uk", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"https://*.spineservices.nhs.uk", Pattern{"https", "spineservices.nhs.uk", true, 0}, "https://*.spineservices.nhs.uk"},
		{"http://localhost:8080", Pattern{"http", "localhost", false, 8080}, "http://localhost:8080"},
		{"http://localhost", Pattern{"http", "localhost", false, 0}, "http://localhost"},
		{"HTTPS://MY.ESR.NHS.UK", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"https://my.esr.nhs.uk/", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"  https://my.esr.nhs.uk  ", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"https://my.esr.nhs.uk:443", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"https://my.esr.nhs.uk:443/", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"http://my.esr.nhs.uk:80", Pattern{"http", "my.esr.nhs.uk", false, 0}, "http://my.esr.nhs.uk"},
		{"http://my.esr.nhs.uk:443", Pattern{"http", "my.esr.nhs.uk", false, 443}, "http://my.esr.nhs.uk:443"},
		{"https://my.esr.nhs.uk:80", Pattern{"https", "my.esr.nhs.uk", false, 80}, "https://my.esr.nhs.uk:80"},
		{"https://my.esr.nhs.uk:08443", Pattern{"https", "my.esr.nhs.uk", false, 8443}, "https://my.esr.nhs.uk:8443"},
		{"https://*.spineservices.nhs.uk:8443", Pattern{"https", "spineservices.nhs.uk", true, 8443}, "https://*.spineservices.nhs.uk:8443"},
		{"https://*.a.example.com", Pattern{"https", "a.example.com", true, 0}, "https://*.a.example.com"},
		{"https://*.example.com", Pattern{"https", "example.com", true, 0}, "https://*.example.com"},
		{"https://nhs.uk", Pattern{"https", "nhs.uk", false, 0}, "https://nhs.uk"},
		{"http://127.0.0.1:9000", Pattern{"http", "127.0.0.1", false, 9000}, "http://127.0.0.1:9000"},
		{"http://[::1]:9000", Pattern{"http", "[::1]", false, 9000}, "http://[::1]:9000"},
		{"https://[2001:DB8:0:0::1]", Pattern{"https", "[2001:db8::1]", false, 0}, "https://[2001:db8::1]"},
		{"https://bücher.example", Pattern{"https", "xn--bcher-kva.example", false, 0}, "https://xn--bcher-kva.example"},
		{"https://*.BÜCHER.example", Pattern{"https", "xn--bcher-kva.example", true, 0}, "https://*.xn--bcher-kva.example"},
		{"https://XN--BCHER-KVA.example", Pattern{"https", "xn--bcher-kva.example", false, 0}, "https://xn--bcher-kva.example"},
		{"https://ｍｙ．esr。nhs.uk", Pattern{"https", "my.esr.nhs.uk", false, 0}, "https://my.esr.nhs.uk"},
		{"https://*.foo.localhost", Pattern{"https", "foo.localhost", true, 0}, "https://*.foo.localhost"},
		{"http://esr:65535", Pattern{"http", "esr", false, 65535}, "http://esr:65535"},
		{"https://a-b.example", Pattern{"https", "a-b.example", false, 0}, "https://a-b.example"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePattern(tt.in)
			if err != nil {
				t.Fatalf("ParsePattern(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParsePattern(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			again, err := ParsePattern(got.String())
			if err != nil || again != got {
				t.Errorf("ParsePattern(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestParsePatternBad(t *testing.T) {
	tests := []struct {
		in      string
		mention string // a word the error must contain
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"my.esr.nhs.uk", "missing scheme"},
		{"*.spineservices.nhs.uk", "missing scheme"},
		{"localhost:8080", "missing scheme"},
		{"https:my.esr.nhs.uk", `missing "//"`},
		{"https:/my.esr.nhs.uk", `missing "//"`},
		{"://my.esr.nhs.uk", "missing scheme"},
		{"ftp://my.esr.nhs.uk", `scheme "ftp"`},
		{"wss://my.esr.nhs.uk", `scheme "wss"`},
		{"https://", "missing host"},
		{"https:///", "missing host"},
		{"https://:8080", "missing host"},
		{"https://my.esr.nhs.uk/path", "path"},
		{"https://my.esr.nhs.uk//", "path"},
		{"https://my.esr.nhs.uk?x=1", "query"},
		{"https://my.esr.nhs.uk/?x=1", "path"},
		{"https://my.esr.nhs.uk#top", "fragment"},
		{`https://my.esr.nhs.uk\x`, "backslash"},
		{"https://user@my.esr.nhs.uk", "user"},
		{"https://user:pw@my.esr.nhs.uk", "user"},
		{"https://my.esr.nhs.uk:", "missing port"},
		{"https://my.esr.nhs.uk:0", "out of range"},
		{"https://my.esr.nhs.uk:65536", "out of range"},
		{"https://my.esr.nhs.uk:99999999999999999999", "out of range"},
		{"https://my.esr.nhs.uk:abc", "not a number"},
		{"https://my.esr.nhs.uk:-1", "not a number"},
		{"https://my.esr.nhs.uk:+443", "not a number"},
		{"https://*", `bare "*"`},
		{"https://*.", `"*." must be followed`},
		{"https://*.*.example.com", `"*" is only allowed`},
		{"https://a.*.example.com", `"*" is only allowed`},
		{"https://*example.com", `"*" is only allowed`},
		{"https://example.*", `"*" is only allowed`},
		{"https://*.uk", "two labels"},
		{"https://*.com", "two labels"},
		{"https://*.localhost", "two labels"},
		{"https://*.co.uk", `"co.uk" is a public suffix`},
		{"https://*.nhs.uk", `"nhs.uk" is a public suffix`},
		{"https://*.NHS.UK", `"nhs.uk" is a public suffix`},
		{"https://*.github.io", `"github.io" is a public suffix`},
		{"https://*.127.0.0.1", "IP address"},
		{"https://*.[::1]", "IP address"},
		{"https://*.0.0.1", "IPv4"},
		{"http://127.1", "IPv4"},
		{"http://0x7f.0.0.1", "IPv4"},
		{"http://127.000.0.1", "IPv4"},
		{"http://256.0.0.1", "IPv4"},
		{"http://example.123", "IPv4"},
		{"http://::1", "brackets"},
		{"http://[::1", `closing "]"`},
		{"http://[::1]x", `after "]"`},
		{"http://[1.2.3.4]", "IPv6"},
		{"http://[fe80::1%25eth0]", "zone"},
		{"http://[zz::1]", "IPv6"},
		{"https://my.esr.nhs.uk.", `end with "."`},
		{"https://my..nhs.uk", "empty label"},
		{"https://.nhs.uk", "empty label"},
		{"https://my esr.nhs.uk", "white space"},
		{"https://my.esr.nhs.uk\u00a0x", "white space"},
		{"https://my.esr.nhs.uk\x00", "not allowed in a host"},
		{"https://my_esr.nhs.uk", "not allowed in a host"},
		{"https://my.esr.nhs.uk https://x.nhs.uk", "one pattern per line"},
		{"https://-my.esr.nhs.uk", `starts or ends with "-"`},
		{"https://xn--zz.example", "punycode"},
		{"https://a\u200d.example", "not a valid domain name"},
		{"https://\xff.example", "UTF-8"},
		{"https://" + strings.Repeat("a", 64) + ".example", "longer than 63"},
		{"https://" + strings.Repeat("a.", 127) + "example", "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePattern(tt.in)
			if err == nil {
				t.Fatalf("ParsePattern(%q) = %+v, want error mentioning %q", tt.in, p, tt.mention)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("ParsePattern(%q) error %q does not mention %q", tt.in, err, tt.mention)
			}
		})
	}
}

func TestPatternMatches(t *testing.T) {
	tests := []struct {
		pattern string
		origin  Origin
		want    bool
	}{
		{"https://my.esr.nhs.uk", Origin{"https", "my.esr.nhs.uk", 443}, true},
		{"https://my.esr.nhs.uk", Origin{"https", "my.esr.nhs.uk", 0}, true},
		{"https://my.esr.nhs.uk", Origin{"HTTPS", "MY.ESR.NHS.UK", 443}, true},
		{"https://my.esr.nhs.uk", Origin{"http", "my.esr.nhs.uk", 443}, false},
		{"https://my.esr.nhs.uk", Origin{"https", "my.esr.nhs.uk", 8443}, false},
		{"https://my.esr.nhs.uk", Origin{"https", "my.esr.nhs.uk.", 443}, false},
		{"https://my.esr.nhs.uk", Origin{"wss", "my.esr.nhs.uk", 443}, false},
		{"https://my.esr.nhs.uk", Origin{"https", "my.esr.nhs.uk", 70000}, false},
		{"https://*.nhs.example", Origin{"https", "a.nhs.example", 443}, true},
		{"https://*.nhs.example", Origin{"https", "a.b.nhs.example", 443}, true},
		{"https://*.nhs.example", Origin{"https", "nhs.example", 443}, false},
		{"https://*.nhs.example", Origin{"https", ".nhs.example", 443}, false},
		{"https://*.nhs.example", Origin{"https", "a..nhs.example", 443}, false},
		{"https://*.nhs.example", Origin{"https", ".a.nhs.example", 443}, false},
		{"https://*.nhs.example", Origin{"https", "anhs.example", 443}, false},
		{"https://*.nhs.example", Origin{"https", "a.nhs.example.", 443}, false},
		{"http://localhost:8080", Origin{"http", "localhost", 8080}, true},
		{"http://localhost:8080", Origin{"http", "localhost", 80}, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.origin.String(), func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.matches(tt.origin); got != tt.want {
				t.Errorf("%v.matches(%+v) = %v, want %v", p, tt.origin, got, tt.want)
			}
		})
	}
}
