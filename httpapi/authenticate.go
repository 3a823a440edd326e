package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/cardinfo"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/version"
	"github.com/cardbridge/cardbridge/webeid"
)

// authenticateRequest is the body of POST /api/authenticate.
type authenticateRequest struct {
	Challenge string `json:"challenge"`
}

// handleAuthenticate answers a Web eID 1.0 authentication token: after the
// user's PIN, the card signs hash(hash(origin) || hash(challenge)), where
// origin is the page's Origin header as sent, so a token is worth nothing
// to any other site.
func (s *Server) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "authentication is for web pages: the request has no Origin")
		return
	}
	if err := webeid.ValidateOrigin(origin); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	var req authenticateRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "the body must be {\"challenge\": \"NONCE\"}")
		return
	}
	if err := webeid.ValidateNonce(req.Challenge); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	// The user is asked for the PIN, which the card verifies; then the card
	// signs the token.
	signer, err := s.opt.Backend.OpenSigner(r.Context(), origin)
	if errors.Is(err, agent.ErrNoPINPrompt) {
		localhttp.WriteError(w, http.StatusInternalServerError, api.CodeInternal, err.Error()+" (--pinentry)")
		return
	}
	var tok *webeid.Token
	if err == nil {
		tok, err = webeid.Create(r.Context(), signer, signer.Certificate(), origin, req.Challenge, webeid.AppVersionURL(version.Version))
		if cerr := signer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		code := cardinfo.CodeOf(err)
		s.log.Warn().Str("origin", origin).Str("code", string(code)).Err(err).Msg("authentication failed")
		localhttp.WriteError(w, statusOf(code), code, err.Error())
		return
	}
	s.log.Info().Str("origin", origin).Str("algorithm", tok.Algorithm).Msg("authentication token made")
	localhttp.WriteJSON(w, http.StatusOK, tok)
}

// statusOf is the HTTP status for an API error code.
func statusOf(code api.Code) int {
	switch code {
	case api.CodeBadRequest:
		return http.StatusBadRequest
	case api.CodeNoCard, api.CodeNoReader:
		return http.StatusNotFound
	case api.CodePINCancelled, api.CodeWrongPIN, api.CodePINBlocked:
		return http.StatusForbidden
	case api.CodeBusy:
		return http.StatusConflict
	case api.CodeUnsupportedCard:
		return http.StatusUnprocessableEntity
	case api.CodePCSCUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
