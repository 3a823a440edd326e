package localhttp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/cardbridge/cardbridge/api"
)

// jsonContentType is the Content-Type of every JSON answer; net/http only
// reads it, so all answers share the one slice.
var jsonContentType = []string{"application/json; charset=utf-8"}

// WriteJSON writes v as JSON, with a final newline, and status. A value
// that cannot be encoded is answered 500 INTERNAL.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"INTERNAL","message":"cannot encode the answer"}}`)
	}
	WriteJSONBytes(w, status, append(b, '\n'))
}

// WriteJSONBytes writes b, a JSON answer encoded already (with its final
// newline), and status. The headers are assigned to the map directly, not
// with Header.Set, so that a hot endpoint (GET /api/card) allocates nothing
// for them.
func WriteJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = contentLength(len(b))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// lastLength is the Content-Length value of the last JSON answer written.
// A page asking the same question again (GET /api/card, as it polls) gets
// an answer of the same size, which then shares the value rather than
// allocate one; net/http only reads it.
var lastLength atomic.Pointer[lengthValue]

type lengthValue struct {
	n int
	v []string
}

// contentLength returns the Content-Length header value for n bytes.
func contentLength(n int) []string {
	if l := lastLength.Load(); l != nil && l.n == n {
		return l.v
	}
	l := &lengthValue{n: n, v: []string{strconv.Itoa(n)}}
	lastLength.Store(l)
	return l.v
}

// WriteError writes {"error":{"code","message"}} with status.
func WriteError(w http.ResponseWriter, status int, code api.Code, message string) {
	WriteJSON(w, status, api.ErrorBody{Error: api.Error{Code: code, Message: message}})
}

// NotFound answers a request for no endpoint: 404 with a BAD_REQUEST error
// naming the method and path.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, api.CodeBadRequest, "no such endpoint: "+r.Method+" "+r.URL.Path)
}
