package localhttp

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPageCSP(t *testing.T) {
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	const tail = "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	for _, tc := range []struct{ page, want string }{
		{"<p>no style</p>", "default-src 'none'; style-src 'none'" + tail},
		{"<style>\nb { color: red }\n</style><p>", "default-src 'none'; style-src " + hash("\nb { color: red }\n") + tail},
		{"<style>a{}</style><style>i{}</style>", "default-src 'none'; style-src " + hash("a{}") + " " + hash("i{}") + tail},
		{"<style>unterminated", "default-src 'none'; style-src 'none'" + tail},
	} {
		if got := PageCSP([]byte(tc.page)); got != tc.want {
			t.Errorf("PageCSP(%q) = %q, want %q", tc.page, got, tc.want)
		}
	}
	if strings.Contains(PageCSP([]byte("<style>x</style>")), "unsafe") {
		t.Error("PageCSP allows unsafe-inline")
	}
}

func TestWriteHTML(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteHTML(rec, 404, "default-src 'none'", []byte("<p>hi</p>"))
	h := rec.Header()
	if rec.Code != 404 || rec.Body.String() != "<p>hi</p>" || h.Get("Content-Type") != "text/html; charset=utf-8" ||
		h.Get("Content-Security-Policy") != "default-src 'none'" || h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Length") != "9" {
		t.Errorf("%d %q %v", rec.Code, rec.Body.String(), h)
	}
}
