package httpapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/webeid"
)

// handleSigningCertificate answers the certificate of the card's signing
// key and the signature algorithms the card signs with, as Web eID's
// getSigningCertificate does: {"certificate", "supportedSignatureAlgorithms"}.
// It needs no PIN and does not touch the card: the certificate was read
// when the card went in, and pages on the DomainList see it as they see GET
// /api/card's certificate. The body is empty or {}.
func (s *Server) handleSigningCertificate(w http.ResponseWriter, r *http.Request) {
	if !emptyObject(r.Body) {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "the body must be empty or {}")
		return
	}
	if !s.pcscAvailable(w) {
		return
	}
	cert, err := s.opt.Backend.SigningCertificate(r.Context())
	var sc *webeid.SigningCertificate
	if err == nil {
		sc, err = webeid.NewSigningCertificate(cert)
	}
	if err != nil {
		s.signingFailed(w, "no signing certificate", r.Header.Get("Origin"), err)
		return
	}
	localhttp.WriteJSON(w, http.StatusOK, sc)
}

// pcscAvailable answers PCSC_UNAVAILABLE, and reports false, when the smart
// card service is not running.
func (s *Server) pcscAvailable(w http.ResponseWriter) bool {
	if s.opt.Backend.Available() {
		return true
	}
	localhttp.WriteError(w, http.StatusServiceUnavailable, api.CodePCSCUnavailable, "the smart card service (PC/SC) is not running")
	return false
}

// emptyObject reports whether body is empty, or one JSON object without
// members.
func emptyObject(body io.Reader) bool {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var v struct{}
	err := dec.Decode(&v)
	return err == io.EOF || err == nil && dec.Decode(&v) == io.EOF
}

// handleSign signs a hash the page computed with the card's signing key,
// as Web eID's sign does: the body is {"certificate", "hash",
// "hashFunction"}, the certificate the one POST /api/signing-certificate
// answered; the answer is {"signature", "signatureAlgorithm"}. The whole
// request is checked, and the certificate matched with the card's, before
// the user is asked for the PIN; the PIN prompt names the page's origin and
// says that it asks for a signature, not a login.
func (s *Server) handleSign(w http.ResponseWriter, r *http.Request) {
	origin, ok := pageOrigin(w, r, "signing")
	if !ok {
		return
	}
	var req webeid.SignRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "the body must be {\"certificate\": \"BASE64 DER\", \"hash\": \"BASE64\", \"hashFunction\": \"SHA-256\"}")
		return
	}
	h, err := webeid.ParseSignRequest(req)
	if err != nil {
		localhttp.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	if !s.pcscAvailable(w) {
		return
	}
	signing, err := s.opt.Backend.SigningCertificate(r.Context())
	if err == nil {
		err = h.CheckCertificate(signing)
	}
	if err != nil {
		s.signingFailed(w, "signing failed", origin, err)
		return
	}
	// The user is asked for the PIN, which the card verifies; then the card
	// signs the hash.
	signer, err := s.opt.Backend.OpenSignatureSigner(r.Context(), origin)
	var sig *webeid.Signature
	if err == nil {
		sig, err = webeid.Sign(r.Context(), signer, h)
		if cerr := signer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.signingFailed(w, "signing failed", origin, err)
		return
	}
	s.log.Info().Str("origin", origin).Str("hash_function", req.HashFunction).Str("crypto_algorithm", sig.SignatureAlgorithm.CryptoAlgorithm).Msg("signature made")
	localhttp.WriteJSON(w, http.StatusOK, sig)
}
