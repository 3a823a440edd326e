package localhttp

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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
// through WriteJSONBytes; answers of the size of the last one allocate
// nothing for their headers (not one per header as Header.Set would, nor
// a Content-Length value each), and every answer's Content-Length is its
// own body's, whatever sizes came before it.
func TestWriteJSONBytesAllocations(t *testing.T) {
	w := &headerOnly{h: http.Header{}}
	noCard := []byte(`{"present":false}` + "\n")
	card := []byte(`{"present":true,"uuid":"` + strings.Repeat("7", 1300) + `"}` + "\n")
	for _, body := range [][]byte{noCard, card} {
		if n := testing.AllocsPerRun(100, func() { WriteJSONBytes(w, http.StatusOK, body) }); n != 0 {
			t.Errorf("WriteJSONBytes of %d bytes: %v allocations, want none", len(body), n)
		}
	}
	for _, body := range [][]byte{noCard, card, card, noCard, []byte("{}\n"), noCard} {
		WriteJSONBytes(w, http.StatusOK, body)
		if got, want := w.h.Get("Content-Length"), strconv.Itoa(len(body)); got != want {
			t.Fatalf("Content-Length %s for a body of %s bytes", got, want)
		}
	}
}

// TestContentLengthConcurrent: answers of different sizes written at once
// each get their own length (go test -race sees the shared value).
func TestContentLengthConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				n := g*1000 + i%3
				if got := contentLength(n); len(got) != 1 || got[0] != strconv.Itoa(n) {
					t.Errorf("contentLength(%d) = %q", n, got)
					return
				}
			}
		})
	}
	wg.Wait()
}
