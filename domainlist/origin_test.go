package domainlist

import (
	"strings"
	"testing"
)

func TestParseOriginGood(t *testing.T) {
	tests := []struct {
		in   string
		want Origin
	}{
		{"https://my.esr.nhs.uk", Origin{"https", "my.esr.nhs.uk", 443}},
		{"http://my.esr.nhs.uk", Origin{"http", "my.esr.nhs.uk", 80}},
		{"HTTPS://MY.ESR.NHS.UK", Origin{"https", "my.esr.nhs.uk", 443}},
		{"https://my.esr.nhs.uk:8443", Origin{"https", "my.esr.nhs.uk", 8443}},
		{"https://my.esr.nhs.uk:443", Origin{"https", "my.esr.nhs.uk", 443}},
		{"https://my.esr.nhs.uk:1", Origin{"https", "my.esr.nhs.uk", 1}},
		{"https://my.esr.nhs.uk:65535", Origin{"https", "my.esr.nhs.uk", 65535}},
		{"http://localhost:8080", Origin{"http", "localhost", 8080}},
		{"http://127.0.0.1:8080", Origin{"http", "127.0.0.1", 8080}},
		{"http://[::1]:8080", Origin{"http", "[::1]", 8080}},
		{"http://[::1]", Origin{"http", "[::1]", 80}},
		{"https://[2001:DB8::1]", Origin{"https", "[2001:db8::1]", 443}},
		{"https://[2001:db8:0:0:0:0:0:1]", Origin{"https", "[2001:db8::1]", 443}},
		{"https://xn--bcher-kva.example", Origin{"https", "xn--bcher-kva.example", 443}},
		{"https://my.esr.nhs.uk.", Origin{"https", "my.esr.nhs.uk.", 443}},
		{"https://under_score.example", Origin{"https", "under_score.example", 443}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseOrigin(tt.in, true)
			if err != nil {
				t.Fatalf("parseOrigin(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseOrigin(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseOriginBad(t *testing.T) {
	tests := []struct {
		in      string
		mention string
	}{
		{"", "empty"},
		{"null", "null"},
		{"NULL", "not an origin"},
		{"my.esr.nhs.uk", "not an origin"},
		{"file://", "not http or https"},
		{"chrome-extension://abcdef", "not http or https"},
		{"https://", "missing host"},
		{"https://:443", "missing host"},
		{"https://my.esr.nhs.uk/", "path"},
		{"https://my.esr.nhs.uk/x", "path"},
		{"https://my.esr.nhs.uk?x", "query"},
		{"https://my.esr.nhs.uk#x", "fragment"},
		{`https://my.esr.nhs.uk\`, "backslash"},
		{"https://user@my.esr.nhs.uk", "user"},
		{"https://user@host", "user"},
		{"https://my.esr.nhs.uk:0", "out of range"},
		{"https://my.esr.nhs.uk:65536", "out of range"},
		{"https://my.esr.nhs.uk:abc", "not a number"},
		{"https://my.esr.nhs.uk:", "missing port"},
		{"https://::1", "brackets"},
		{"https://[::1", `closing "]"`},
		{"https://[::1]:", "missing port"},
		{"https://[::1]x", `after "]"`},
		{"https://[fe80::1%eth0]", "zone"},
		{"https://[127.0.0.1]", "IPv6"},
		{"https://[]", "IPv6"},
		{"https://127.1", "IPv4"},
		{"https://1.2.3.4.", "IPv4"},
		{"https://0x7f.0.0.1", "IPv4"},
		{"https://my..esr.nhs.uk", "empty label"},
		{"https://.my.esr.nhs.uk", "empty label"},
		{"https://.", "missing host"},
		{"https://my esr", "not allowed"},
		{" https://my.esr.nhs.uk", "not http or https"},
		{"https://my.esr.nhs.uk ", "not allowed"},
		{"https://bücher.example", "not allowed"},
		{"https://my.esr.nhs.uk\r\n", "not allowed"},
		{"https://" + strings.Repeat("a", 64) + ".example", "longer than 63"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			o, err := parseOrigin(tt.in, true)
			if err == nil {
				t.Fatalf("parseOrigin(%q) = %+v, want error mentioning %q", tt.in, o, tt.mention)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("parseOrigin(%q) error %q does not mention %q", tt.in, err, tt.mention)
			}
		})
	}
}

func TestOriginString(t *testing.T) {
	tests := []struct {
		o    Origin
		want string
	}{
		{Origin{"https", "my.esr.nhs.uk", 443}, "https://my.esr.nhs.uk"},
		{Origin{"https", "my.esr.nhs.uk", 8443}, "https://my.esr.nhs.uk:8443"},
		{Origin{"http", "[::1]", 80}, "http://[::1]"},
		{Origin{"http", "localhost", 443}, "http://localhost:443"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.o.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
