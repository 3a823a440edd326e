package localhttp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
)

// PageCSP is the Content-Security-Policy of an HTML page that loads
// nothing, runs no script and is styled only by the <style> elements of
// its source, each allowed by its hash (so no other inline style applies):
//
//	default-src 'none'; style-src 'sha256-…'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'
//
// The <style> elements must hold no template action, so that the page
// served has them exactly as in source.
func PageCSP(source []byte) string {
	csp := "default-src 'none'; style-src"
	styles := 0
	for rest := source; ; {
		i := bytes.Index(rest, []byte("<style>"))
		if i < 0 {
			break
		}
		rest = rest[i+len("<style>"):]
		j := bytes.Index(rest, []byte("</style>"))
		if j < 0 {
			break
		}
		sum := sha256.Sum256(rest[:j])
		csp += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		styles++
		rest = rest[j:]
	}
	if styles == 0 {
		csp += " 'none'"
	}
	return csp + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// WriteHTML writes a rendered HTML page with status, the document headers
// and csp (from PageCSP).
func WriteHTML(w http.ResponseWriter, status int, csp string, page []byte) {
	h := w.Header()
	documentHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	_, _ = w.Write(page)
}
