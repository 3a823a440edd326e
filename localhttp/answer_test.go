package localhttp

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/cardbridge/cardbridge/api"
)

func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		write  func(http.ResponseWriter)
		status int
		body   string
	}{
		{"a value", func(w http.ResponseWriter) { WriteJSON(w, http.StatusOK, api.NoCard) },
			200, `{"present":false}` + "\n"},
		{"a value with another status", func(w http.ResponseWriter) { WriteJSON(w, http.StatusAccepted, map[string]int{"n": 1}) },
			202, `{"n":1}` + "\n"},
		{"a value that cannot be encoded", func(w http.ResponseWriter) { WriteJSON(w, http.StatusOK, math.NaN()) },
			500, `{"error":{"code":"INTERNAL","message":"cannot encode the answer"}}` + "\n"},
		{"bytes encoded already", func(w http.ResponseWriter) { WriteJSONBytes(w, http.StatusOK, []byte(`{"present":false}`+"\n")) },
			200, `{"present":false}` + "\n"},
		{"bytes with another status", func(w http.ResponseWriter) { WriteJSONBytes(w, http.StatusServiceUnavailable, []byte("{}\n")) },
			503, "{}\n"},
		{"an error", func(w http.ResponseWriter) {
			WriteError(w, http.StatusServiceUnavailable, api.CodePCSCUnavailable, `the "smart card" service`)
		}, 503, `{"error":{"code":"PCSC_UNAVAILABLE","message":"the \"smart card\" service"}}` + "\n"},
		{"no such endpoint", func(w http.ResponseWriter) { NotFound(w, httptest.NewRequest("DELETE", "/api/nothing?x=1", nil)) },
			404, `{"error":{"code":"BAD_REQUEST","message":"no such endpoint: DELETE /api/nothing"}}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.write(rec)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Errorf("answered %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.body)
			}
			h := rec.Result().Header
			if got := h.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if got := h.Get("Content-Length"); got != strconv.Itoa(len(tc.body)) {
				t.Errorf("Content-Length %q for a body of %d bytes", got, len(tc.body))
			}
		})
	}
}

// headerOnly is a ResponseWriter that keeps one header map and discards
// the rest, so that only the writer's own allocations are counted.
type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) WriteHeader(int)             {}
func (w *headerOnly) Write(b []byte) (int, error) { return len(b), nil }

// TestWriteJSONBytesAllocations: GET /api/card writes a pre-encoded body
// through WriteJSONBytes; its headers cost one allocation (the
// Content-Length slice; lengths under 100 need no string), not one per
// header as Header.Set would.
func TestWriteJSONBytesAllocations(t *testing.T) {
	w := &headerOnly{h: http.Header{}}
	body := []byte(`{"present":false}` + "\n")
	if n := testing.AllocsPerRun(100, func() { WriteJSONBytes(w, http.StatusOK, body) }); n > 1 {
		t.Errorf("WriteJSONBytes: %v allocations, want at most 1", n)
	}
}
