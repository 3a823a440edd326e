package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/peercred"
	"github.com/cardbridge/cardbridge/version"
)

// routes are the pages' endpoints, behind the guard.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /PRS/GetPortNumber", s.handleGetPortNumber)
	mux.HandleFunc("GET /PRS/ConnectPRService", func(w http.ResponseWriter, r *http.Request) {
		localhttp.WriteJSON(w, http.StatusOK, api.ConnectAnswer{StatusCode: http.StatusOK})
	})
	mux.HandleFunc("GET /api/versioninfo", func(w http.ResponseWriter, r *http.Request) {
		localhttp.WriteJSON(w, http.StatusOK, s.VersionInfo())
	})
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("/", localhttp.NotFound)
	return mux
}

// VersionInfo describes the service for /api/versioninfo and doctor.
func (s *Service) VersionInfo() api.VersionInfo {
	v := version.Get()
	domains := s.inForce()
	list := domains.List
	updated := time.Unix(0, s.updated.Load()).UTC()
	vi := api.VersionInfo{
		Product: "cardbridge-portservice", Version: v.Version, Commit: v.Commit, API: api.APIVersion,
		OS: runtime.GOOS, Arch: runtime.GOARCH, Port: s.Port(),
		PortService: api.PortServiceInfo{Connected: true},
		DomainList:  api.DomainListInfo{Version: list.Version(), Source: domains.Source, Entries: list.Entries(), Updated: &updated},
		TrustedURL:  api.TrustedURLInfo{URL: s.opt.TrustedURL},
		PortRange:   s.portRangeInfo(),
		Settings:    s.opt.Settings, PolicyProblems: s.opt.PolicyProblems,
	}
	if s.refresher != nil {
		st := s.refresher.Status()
		vi.TrustedURL.LatestVersion = st.LatestVersion
		vi.TrustedURL.DomainListVersion = st.DomainListVersion
		vi.TrustedURL.UpdateAvailable = st.UpdateAvailable(v.Version)
		if !st.Checked.IsZero() {
			t := st.Checked
			vi.TrustedURL.Checked = &t
		}
		if !st.LastSuccess.IsZero() {
			t := st.LastSuccess.UTC()
			vi.TrustedURL.LastSuccess = &t
		}
		if st.Err != nil {
			vi.TrustedURL.Error = st.Err.Error()
		}
	}
	return vi
}

// portRangeInfo describes the range for versioninfo.
func (s *Service) portRangeInfo() *api.PortRangeInfo {
	info := &api.PortRangeInfo{Lo: s.opt.Range.Lo, Hi: s.opt.Range.Hi, Unusable: s.failed.len()}
	if h := s.holders.Load(); h != nil {
		info.Holders = *h
	}
	for _, e := range s.store.Entries() {
		if !s.opt.Range.Contains(e.Port) {
			info.Outside++
		}
	}
	return info
}

// Every user on the host calls the port service, so no one user may hold
// more than MaxConnsPerUser connections to it at once (a page asks the five
// well-known ports; a user's browsers keep a few of each), and keep-alive
// connections idle for IdleTimeout are closed (a page asks once).
const (
	MaxConnsPerUser = 64
	IdleTimeout     = 10 * time.Second
)

// fault is the NHS Port Service's answer when the caller has no agent, in
// both casings NHS clients read.
var fault = func() []byte {
	b, _ := json.Marshal(api.NewPortFault(api.FaultNoAgent, "Unable to find CM process for user"))
	return append(b, '\n')
}()

// portAnswerWait bounds how long GetPortNumber waits for an agent that is
// moving to a new port.
const portAnswerWait = 3 * time.Second

// handleGetPortNumber answers the calling user's agent port, found from
// the OS owner of the page's TCP connection.
func (s *Service) handleGetPortNumber(w http.ResponseWriter, r *http.Request) {
	user, err := localhttp.PeerUser(r)
	if err != nil {
		s.log.Warn().Err(err).Str("remote", r.RemoteAddr).Msg("GetPortNumber: cannot tell who is calling")
		localhttp.WriteJSONBytes(w, http.StatusOK, fault)
		return
	}
	port, err := s.portFor(r.Context(), user)
	if err != nil {
		s.log.Info().Str("user", user.ID).Err(err).Msg("GetPortNumber: no agent for this user")
		localhttp.WriteJSONBytes(w, http.StatusOK, fault)
		return
	}
	localhttp.WriteJSON(w, http.StatusOK, api.NewPortNumber(port))
}

// errNoAgent means the user has no live agent serving its port.
var errNoAgent = errors.New("no agent listening for this user")

// portFor returns user's live agent port after checking that nobody else
// listens on it; a squatted port is reallocated and the agent moved.
func (s *Service) portFor(ctx context.Context, user peercred.User) (int, error) {
	s.mu.Lock()
	reg := s.regs[user.ID]
	s.mu.Unlock()
	if reg == nil {
		return 0, errNoAgent
	}
	deadline := time.NewTimer(portAnswerWait)
	defer deadline.Stop()
	for {
		port, listening, changed := reg.state()
		if listening {
			reg.moveMu.Lock()
			port, err := s.checkPort(reg, port)
			reg.moveMu.Unlock()
			if err != nil || port != 0 {
				return port, err
			}
			continue // moved; wait for the agent on its new port
		}
		select {
		case <-changed:
		case <-deadline.C:
			return 0, errNoAgent
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
