package httpapi

import (
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/signalr"
)

// NHS Credential Management status codes of requestToSign answers.
const (
	statusSuccess          = 0
	statusMalformedRequest = 0x53494703
	statusNoCertificate    = 0x53494705
)

// signRequest is the JSON inside requestToSign's base64 argument.
type signRequest struct {
	Algorithm   string `json:"algorithm"` // RS1 or RS256
	RequestType int    `json:"requestType"`
	Version     int    `json:"version"`
	Flags       int    `json:"flags"`
	Payloads    []struct {
		ID      string `json:"id"`
		Payload string `json:"payload"` // base64 of the bytes to sign
	} `json:"payloads"`
}

// signResponse is requestToSign's answer.
type signResponse struct {
	Certificate      string            `json:"certificate"`
	StatusCode       int               `json:"status_code"`
	StatusString     string            `json:"status_string"`
	Message          string            `json:"message"`
	Timestamp        string            `json:"timestamp"`
	Signatures       []signature       `json:"signatures"`
	FailedSignatures []failedSignature `json:"failed_signatures"`
}

type signature struct {
	ID        string `json:"id"`
	Signature string `json:"signature"`
}

type failedSignature struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// maxPayloads bounds one request's payloads.
const maxPayloads = 100

// invokeHub is the SignalR Invoker: signingHub.requestToSign.
func (s *Server) invokeHub(ctx context.Context, c *signalr.Conn, hub, method string, args []json.RawMessage) (any, error) {
	if !strings.EqualFold(method, "requestToSign") { // SignalR matches method names in any case
		return nil, signalr.ErrUnknownMethod
	}
	now := time.Now().UTC().Format(time.RFC3339)
	malformed := func(msg string) signResponse {
		return signResponse{StatusCode: statusMalformedRequest, StatusString: "Malformed request", Message: msg, Timestamp: now,
			Signatures: []signature{}, FailedSignatures: []failedSignature{}}
	}
	var arg string
	if len(args) != 1 || json.Unmarshal(args[0], &arg) != nil {
		return malformed("requestToSign takes one argument, a base64 string"), nil
	}
	raw, err := base64.StdEncoding.DecodeString(arg)
	if err != nil {
		return malformed("the request is not base64"), nil
	}
	var req signRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return malformed("the request is not the expected JSON"), nil
	}
	var hash crypto.Hash
	switch req.Algorithm {
	case "RS1":
		hash = crypto.SHA1
	case "RS256":
		hash = crypto.SHA256
	default:
		return malformed(fmt.Sprintf("unsupported algorithm %q", req.Algorithm)), nil
	}
	if len(req.Payloads) == 0 || len(req.Payloads) > maxPayloads {
		return malformed(fmt.Sprintf("a request carries 1 to %d payloads", maxPayloads)), nil
	}
	// Every payload is checked before the user is asked for a PIN: a
	// request that cannot be signed in full is refused as a whole.
	data := make([][]byte, len(req.Payloads))
	for i, p := range req.Payloads {
		if p.ID == "" {
			return malformed(fmt.Sprintf("payload %d has no id", i+1)), nil
		}
		if data[i], err = base64.StdEncoding.DecodeString(p.Payload); err != nil || len(data[i]) == 0 {
			return malformed(fmt.Sprintf("payload %d is not non-empty base64", i+1)), nil
		}
	}
	resp := signResponse{StatusCode: statusSuccess, StatusString: "Success", Timestamp: now, Signatures: []signature{}, FailedSignatures: []failedSignature{}}
	origin := c.Origin()
	// The user is asked for the PIN, which the card verifies; then the card
	// signs each payload.
	signer, err := s.opt.Backend.OpenSigner(ctx, origin)
	if err == nil {
		resp.Certificate = base64.StdEncoding.EncodeToString(signer.Certificate().Raw)
		err = signPayloads(ctx, signer, hash, req, data, &resp)
		if cerr := signer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		code := s.signingCode("requestToSign failed", origin, err)
		if code == api.CodeNoCard || code == api.CodeNoReader {
			return signResponse{StatusCode: statusNoCertificate, StatusString: "No X.509 Signing certificate found", Message: err.Error(), Timestamp: now,
				Signatures: []signature{}, FailedSignatures: []failedSignature{}}, nil
		}
		msg := string(code) + ": " + err.Error()
		if errors.Is(err, agent.ErrNoPINPrompt) {
			msg = err.Error() // the hub has answered this one without its code
		}
		return nil, &signalr.HubError{Message: msg, Data: map[string]string{"code": string(code)}}
	}
	s.log.Info().Str("origin", origin).Int("signed", len(resp.Signatures)).Int("failed", len(resp.FailedSignatures)).Msg("requestToSign done")
	return resp, nil
}

// signPayloads signs each payload's data into resp: a payload the card
// cannot sign is a failed signature, but a card that has left ends the
// request.
func signPayloads(ctx context.Context, signer *agent.CardSigner, hash crypto.Hash, req signRequest, data [][]byte, resp *signResponse) error {
	for i, p := range req.Payloads {
		sig, err := signer.Sign(ctx, hash, digest(hash, data[i]))
		if err != nil {
			if errors.Is(err, pcsc.ErrNoCard) || errors.Is(err, pcsc.ErrClosed) {
				return err // the card left: nothing more can be signed
			}
			resp.FailedSignatures = append(resp.FailedSignatures, failedSignature{ID: p.ID, Message: err.Error()})
			continue
		}
		resp.Signatures = append(resp.Signatures, signature{ID: p.ID, Signature: base64.StdEncoding.EncodeToString(sig)})
	}
	return nil
}

// digest hashes data with hash (SHA-1 or SHA-256).
func digest(hash crypto.Hash, data []byte) []byte {
	if hash == crypto.SHA1 {
		d := sha1.Sum(data)
		return d[:]
	}
	d := sha256.Sum256(data)
	return d[:]
}
