package httpapi

import (
	_ "embed"
	"net/http"
	"runtime"
	"strconv"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/localhttp"
)

func (s *Server) handleVersionInfo(w http.ResponseWriter, r *http.Request) {
	localhttp.WriteJSON(w, http.StatusOK, s.versionInfo())
}

func (s *Server) handleReaders(w http.ResponseWriter, r *http.Request) {
	if !s.opt.Backend.Available() {
		localhttp.WriteError(w, http.StatusServiceUnavailable, api.CodePCSCUnavailable, "the smart card service (PC/SC) is not running")
		return
	}
	localhttp.WriteJSON(w, http.StatusOK, s.opt.Backend.Readers())
}

func (s *Server) handleCard(w http.ResponseWriter, r *http.Request) {
	if !s.opt.Backend.Available() {
		localhttp.WriteError(w, http.StatusServiceUnavailable, api.CodePCSCUnavailable, "the smart card service (PC/SC) is not running")
		return
	}
	localhttp.WriteJSONBytes(w, http.StatusOK, s.opt.Backend.CardJSON(r.Context()))
}

// handleClientJS serves the JavaScript client. Pages load it with a plain
// <script src>, so it is readable cross-origin.
func (s *Server) handleClientJS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(clientJS)))
	_, _ = w.Write(clientJS)
}

// clientJS is cardbridge.js, the JavaScript client pages include: the UMD
// script that tools/jsclient makes from web/src/cardbridge.js (a test in
// tools/jsclient fails while it is out of date).
//
//go:generate go run ../tools/jsclient -root ..
//go:embed cardbridge.js
var clientJS []byte

// Stats is the answer to GET /debug/stats: the agent's own resource use,
// for helpdesk tools and benchmarks.
type Stats struct {
	Goroutines   int    `json:"goroutines"`
	Processors   int    `json:"processors"` // GOMAXPROCS
	EventStreams int    `json:"eventStreams"`
	HeapBytes    uint64 `json:"heapBytes"`
	SysBytes     uint64 `json:"sysBytes"`
}

// handleStats reports resource use. It is for tools of the agent's own
// user, never for pages: any request with an Origin is refused.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" {
		localhttp.WriteError(w, http.StatusForbidden, api.CodeOriginNotAllowed, "not for web pages")
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mu.Lock()
	streams := len(s.ws)
	s.mu.Unlock()
	localhttp.WriteJSON(w, http.StatusOK, Stats{Goroutines: runtime.NumGoroutine(), Processors: runtime.GOMAXPROCS(0), EventStreams: streams, HeapBytes: ms.HeapAlloc, SysBytes: ms.Sys})
}
