package webeid

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestValidateNonce(t *testing.T) {
	b := func(n int) []byte { // n bytes that use every Base64 character, '+' and '/' included
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(i*37 + 251)
		}
		return out
	}
	std := base64.StdEncoding.EncodeToString
	tests := []struct {
		name  string
		nonce string
		ok    bool
	}{
		{"32 bytes padded (44)", std(b(32)), true},
		{"33 bytes unpadded (44)", std(b(33)), true},
		{"32 bytes unpadded (43)", base64.RawStdEncoding.EncodeToString(b(32)), false},
		{"43 characters", strings.Repeat("A", 43), false},
		{"44 characters", strings.Repeat("A", 44), true},
		{"96 bytes (128)", std(b(96)), true},
		{"128 characters", strings.Repeat("A", 128), true},
		{"129 characters", strings.Repeat("A", 129), false},
		{"empty", "", false},
		{"URL-safe padded", base64.URLEncoding.EncodeToString(b(32)), true},
		{"URL-safe unpadded", base64.RawURLEncoding.EncodeToString(b(34)), true},
		{"mixed alphabets", "+" + strings.Repeat("A", 42) + "_", false},
		{"Web eID test nonce", "12345678123456781234567812345678912356789123", true},
		{"one '='", strings.Repeat("A", 43) + "=", true},
		{"two '='", strings.Repeat("A", 46) + "==", true},
		{"three '='", strings.Repeat("A", 45) + "===", false},
		{"'=' inside", strings.Repeat("A", 20) + "=" + strings.Repeat("A", 23), false},
		{"'=' on a length not a multiple of 4", strings.Repeat("A", 45) + "=", false},
		{"impossible length (45)", strings.Repeat("A", 45), false},
		{"space", strings.Repeat("A", 22) + " " + strings.Repeat("A", 21), false},
		{"newline", strings.Repeat("A", 22) + "\n" + strings.Repeat("A", 22), false},
		{"CRLF", strings.Repeat("A", 44) + "\r\n", false},
		{"dot", strings.Repeat("A", 43) + ".", false},
		{"NUL", strings.Repeat("A", 43) + "\x00", false},
		{"non-ASCII", strings.Repeat("A", 42) + "é", false},
		{"hex with colons", strings.Repeat("0a:", 15), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateNonce(tt.nonce)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateNonce(%q) = %v, want ok %v", tt.nonce, err, tt.ok)
			}
			if err != nil && (!errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.Error(), "validate nonce: ")) {
				t.Errorf("error %q does not name the operation or wrap ErrInvalidInput", err)
			}
		})
	}
}

func TestValidateOrigin(t *testing.T) {
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://my.esr.nhs.uk", true},
		{"https://portal.spineservices.nhs.uk", true},
		{"https://example.com:8443", true},
		{"https://localhost", true},
		{"http://localhost", true},
		{"http://localhost:8080", true},
		{"https://192.168.0.1", true},
		{"https://[::1]", true},
		{"https://[2001:db8::1]:8443", true},
		{"https://xn--bcher-kva.example", true},
		{"https://under_score.example", true},
		{"https://ex-ample.com:65535", true},

		{"", false},
		{"null", false},
		{"https://example.com/", false},
		{"https://example.com/path", false},
		{"https://example.com?q", false},
		{"https://example.com#f", false},
		{"https://user@example.com", false},
		{"https://user:pw@example.com", false},
		{"https://example.com\\", false},
		{"http://example.com", false},
		{"http://127.0.0.1:8080", false},
		{"http://[::1]", false},
		{"http://localhost.evil.example", false},
		{"http://evil.example#localhost", false},
		{"ftp://example.com", false},
		{"wss://example.com", false},
		{"file://", false},
		{"example.com", false},
		{"//example.com", false},
		{"https://", false},
		{"https:example.com", false},
		{"HTTPS://example.com", false},
		{"https://Example.com", false},
		{"https://EXAMPLE.COM", false},
		{"https://bücher.example", false},
		{"https://exa mple.com", false},
		{"https://example.com ", false},
		{" https://example.com", false},
		{"https://example.com\t", false},
		{"https://example.com\r\n", false},
		{"https://example..com", false},
		{"https://.example.com", false},
		{"https://example.com.", false},
		{"https://" + strings.Repeat("a", 64) + ".com", false},
		{"https://" + strings.Repeat("a.", 127) + "com", false},
		{"https://example.com:443", false},
		{"http://localhost:80", false},
		{"https://example.com:", false},
		{"https://example.com:0", false},
		{"https://example.com:08443", false},
		{"https://example.com:65536", false},
		{"https://example.com:123456", false},
		{"https://example.com:84a3", false},
		{"https://example.com:+443", false},
		{"https://example.com:1:2", false},
		{"https://[::1", false},
		{"https://[::1]x", false},
		{"https://[::1]:", false},
		{"https://[0:0::1]", false},
		{"https://[::FFFF]", false},
		{"https://[fe80::1%25eth0]", false},
		{"https://[127.0.0.1]", false},
		{"https://[]", false},
		{"https://exa%6dple.com", false},
		{"https://" + strings.Repeat("a", 600) + ".com", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			err := ValidateOrigin(tt.origin)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateOrigin(%q) = %v, want ok %v", tt.origin, err, tt.ok)
			}
			if err != nil && (!errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.Error(), "validate origin: ")) {
				t.Errorf("error %q does not name the operation or wrap ErrInvalidInput", err)
			}
		})
	}
}
