package signalr

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/cardbridge/cardbridge/api"
)

// negotiateResponse is negotiate's answer, with SignalR 2's member names.
type negotiateResponse struct {
	URL                     string  `json:"Url"`
	ConnectionToken         string  `json:"ConnectionToken"`
	ConnectionID            string  `json:"ConnectionId"`
	KeepAliveTimeout        float64 `json:"KeepAliveTimeout"`
	DisconnectTimeout       float64 `json:"DisconnectTimeout"`
	ConnectionTimeout       float64 `json:"ConnectionTimeout"`
	TryWebSockets           bool    `json:"TryWebSockets"`
	ProtocolVersion         string  `json:"ProtocolVersion"`
	TransportConnectTimeout float64 `json:"TransportConnectTimeout"`
	LongPollDelay           float64 `json:"LongPollDelay"`
}

// persistentResponse is what connect, poll, reconnect and event streams
// carry: the cursor "C", the messages "M" and, on an init message, "S":1.
type persistentResponse struct {
	C string            `json:"C"`
	S int               `json:"S,omitempty"`
	M []json.RawMessage `json:"M"`
}

// response is start's and ping's answer.
type response struct {
	Response string `json:"Response"`
}

// hubResult answers a hub invocation: "I" and "R" on success; "E" on
// failure, with "H" true and "D" for a HubError.
type hubResult struct {
	I string          `json:"I"`
	R json.RawMessage `json:"R,omitempty"`
	E string          `json:"E,omitempty"`
	H bool            `json:"H,omitempty"`
	D json.RawMessage `json:"D,omitempty"`
}

// clientInvocation is a call of a client-side hub method.
type clientInvocation struct {
	H string `json:"H"`
	M string `json:"M"`
	A []any  `json:"A"`
}

// writeError answers with status and cardbridge's error body.
func writeError(w http.ResponseWriter, status int, code api.Code, message string) {
	writeJSON(w, status, api.ErrorBody{Error: api.Error{Code: code, Message: message}})
}

// writeJSON answers with status and v as JSON. It is not localhttp.WriteJSON,
// which ends the body with a newline: SignalR's answers are ASP.NET SignalR's
// bytes, without one (the tests compare them byte for byte).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"INTERNAL","message":"signalr: cannot encode the answer"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
