package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/agent"
	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/signalr"
)

// newUnpromptedServer is a Server whose agent has no PIN prompt.
func newUnpromptedServer(t *testing.T) *Server {
	t.Helper()
	list, bad := domainlist.Parse([]byte(testDomains))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	return New(Options{
		Backend: agent.New(agent.Options{}),
		Domains: func() localhttp.DomainInfo { return localhttp.DomainInfo{List: list} },
		Self:    me,
		Logger:  zerolog.Nop(),
	})
}

// TestAuthenticateWithoutPINPrompt: an agent started without a PIN prompt
// answers a well-formed authentication request INTERNAL, naming the flag.
func TestAuthenticateWithoutPINPrompt(t *testing.T) {
	s := newUnpromptedServer(t)
	body := `{"challenge":"12345678123456781234567812345678912356789123"}`
	req := httptest.NewRequest("POST", "http://localhost:43485/api/authenticate", strings.NewReader(body))
	req.Header.Set("Origin", "https://my.esr.nhs.uk")
	w := httptest.NewRecorder()
	s.handleAuthenticate(w, req)
	var e api.ErrorBody
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != http.StatusInternalServerError || e.Error.Code != api.CodeInternal || e.Error.Message != "no PIN entry program is configured (--pinentry)" {
		t.Errorf("answer %d %s", w.Code, w.Body)
	}
}

// TestRequestToSignWithoutPINPrompt: the signing hub answers a well-formed
// request from an agent without a PIN prompt with a hub error, code INTERNAL.
func TestRequestToSignWithoutPINPrompt(t *testing.T) {
	s := newUnpromptedServer(t)
	req := `{"algorithm":"RS256","payloads":[{"id":"1","payload":"` + base64.StdEncoding.EncodeToString([]byte("<SignedInfo/>")) + `"}]}`
	arg, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte(req)))
	res, err := s.invokeHub(context.Background(), &signalr.Conn{}, "signingHub", "requestToSign", []json.RawMessage{arg})
	var he *signalr.HubError
	if !errors.As(err, &he) || he.Message != "no PIN entry program is configured" || he.Data == nil {
		t.Fatalf("answer %+v, err %v", res, err)
	}
	if code := he.Data.(map[string]string)["code"]; code != string(api.CodeInternal) {
		t.Errorf("code %q", code)
	}
}
