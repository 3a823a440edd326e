package localhttp

import (
	"encoding/json"
	"net/http"
	"strconv"

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
// with Header.Set, so that a hot endpoint (GET /api/card) allocates no more
// than the Content-Length value.
func WriteJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
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
