package localhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cardbridge/cardbridge/api"
)

// TestJSONWriters: every JSON answer carries the JSON content type and its
// exact length, with the status asked for.
func TestJSONWriters(t *testing.T) {
	tests := []struct {
		name   string
		write  func(w http.ResponseWriter)
		status int
		body   string
	}{
		{"JSON", func(w http.ResponseWriter) { WriteJSON(w, http.StatusOK, map[string]int{"statusCode": 200}) },
			http.StatusOK, `{"statusCode":200}` + "\n"},
		{"JSON escapes HTML", func(w http.ResponseWriter) { WriteJSON(w, http.StatusAccepted, "<a&b>") },
			http.StatusAccepted, `"\u003ca\u0026b\u003e"` + "\n"},
		{"JSON that cannot be encoded", func(w http.ResponseWriter) { WriteJSON(w, http.StatusOK, func() {}) },
			http.StatusInternalServerError, `{"error":{"code":"INTERNAL","message":"cannot encode the answer"}}` + "\n"},
		{"error", func(w http.ResponseWriter) {
			WriteError(w, http.StatusNotFound, api.CodeBadRequest, "no such endpoint: GET /x")
		}, http.StatusNotFound, `{"error":{"code":"BAD_REQUEST","message":"no such endpoint: GET /x"}}` + "\n"},
		{"bytes", func(w http.ResponseWriter) {
			WriteJSONBytes(w, http.StatusOK, []byte(`{"portData":{"portNumber":55000}}`+"\n"))
		},
			http.StatusOK, `{"portData":{"portNumber":55000}}` + "\n"},
		{"bytes with another status", func(w http.ResponseWriter) { WriteJSONBytes(w, http.StatusConflict, []byte("{}")) },
			http.StatusConflict, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			res := rec.Result()
			if res.StatusCode != tt.status || rec.Body.String() != tt.body {
				t.Errorf("answer %d %q, want %d %q", res.StatusCode, rec.Body.String(), tt.status, tt.body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if res.ContentLength != int64(len(tt.body)) {
				t.Errorf("Content-Length %d, want %d", res.ContentLength, len(tt.body))
			}
		})
	}
}
