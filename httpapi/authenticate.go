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
	// GetSigningCertificate asks for a web-eid:1.1 token, which carries
	// the card's signing certificate too.
	GetSigningCertificate bool `json:"getSigningCertificate"`
}

// handleAuthenticate answers a Web eID authentication token: after the
// user's PIN, the card signs hash(hash(origin) || hash(challenge)), where
// origin is the page's Origin header as sent, so a token is worth nothing
// to any other site. The token is web-eid:1.0, or web-eid:1.1 with the
// card's signing certificate when the page asks with getSigningCertificate.
func (s *Server) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	origin, ok := pageOrigin(w, r, "authentication")
	if !ok {
		return
	}
	var req authenticateRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "the body must be {\"challenge\": \"NONCE\"}, or {\"challenge\": \"NONCE\", \"getSigningCertificate\": true}")
		return
	}
	if err := webeid.ValidateNonce(req.Challenge); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	if req.GetSigningCertificate {
		// A card whose signing certificate cannot be used is refused
		// before the user is asked for the PIN.
		if _, err := s.opt.Backend.SigningCertificate(r.Context()); err != nil {
			s.signingFailed(w, "authentication failed", origin, err)
			return
		}
	}
	// The user is asked for the PIN, which the card verifies; then the card
	// signs the token.
	signer, err := s.opt.Backend.OpenSigner(r.Context(), origin)
	var tok *webeid.Token
	if err == nil {
		tok, err = webeid.Create(r.Context(), signer, signer.Certificate(), origin, req.Challenge, webeid.AppVersionURL(version.Version))
		if err == nil && req.GetSigningCertificate {
			err = addSigningCertificate(tok, signer)
		}
		if cerr := signer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.signingFailed(w, "authentication failed", origin, err)
		return
	}
	s.log.Info().Str("origin", origin).Str("algorithm", tok.Algorithm).Str("format", tok.Format).Msg("authentication token made")
	localhttp.WriteJSON(w, http.StatusOK, tok)
}

// addSigningCertificate makes tok a web-eid:1.1 token with the signing
// certificate of the card that signed it.
func addSigningCertificate(tok *webeid.Token, signer *agent.CardSigner) error {
	cert, err := signer.SigningCertificate()
	if err != nil {
		return err
	}
	return tok.WithSigningCertificate(cert)
}

// pageOrigin returns the request's Origin, which must be a web origin: the
// PIN prompt names it and the signature is bound to it. Without one it
// answers BAD_REQUEST, naming what is for web pages, and ok is false.
func pageOrigin(w http.ResponseWriter, r *http.Request, what string) (origin string, ok bool) {
	origin = r.Header.Get("Origin")
	if origin == "" {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, what+" is for web pages: the request has no Origin")
		return "", false
	}
	if err := webeid.ValidateOrigin(origin); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return "", false
	}
	return origin, true
}

// signingFailed logs why a signing request failed (msg, e.g. "authentication
// failed") and answers the error with its API code (signingCode) and the
// HTTP status for it, naming the --pinentry flag when no PIN prompt is
// configured.
func (s *Server) signingFailed(w http.ResponseWriter, msg, origin string, err error) {
	code := s.signingCode(msg, origin, err)
	text := err.Error()
	if errors.Is(err, agent.ErrNoPINPrompt) {
		text += " (--pinentry)"
	}
	localhttp.WriteError(w, statusOf(code), code, text)
}

// signingCode logs why a signing request failed (msg) and returns the
// error's API code (cardinfo.CodeOf): every signing error, over HTTP
// (signingFailed) and on the signing hub, is classified and logged here.
func (s *Server) signingCode(msg, origin string, err error) api.Code {
	code := cardinfo.CodeOf(err)
	s.log.Warn().Str("origin", origin).Str("code", string(code)).Err(err).Msg(msg)
	return code
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
	case api.CodeBusy, api.CodeWrongCard:
		return http.StatusConflict
	case api.CodeUnsupportedCard:
		return http.StatusUnprocessableEntity
	case api.CodePCSCUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
