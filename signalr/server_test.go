package signalr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/internal/testutil"
)

const testOrigin = "https://my.esr.nhs.uk"

// testInvoker is a signingHub whose methods exercise every kind of result.
func testInvoker(ctx context.Context, c *Conn, hub, method string, args []json.RawMessage) (any, error) {
	switch strings.ToLower(method) {
	case "requesttosign":
		return map[string]any{"hub": hub, "method": method, "origin": c.Origin(), "args": args}, nil
	case "fail":
		return nil, errors.New("sign: no card")
	case "hubfail":
		return nil, &HubError{Message: "hub says no", Data: map[string]int{"code": 7}}
	case "panic":
		panic("boom")
	case "block":
		<-ctx.Done()
		return nil, ctx.Err()
	case "notify":
		var text string
		if len(args) > 0 {
			_ = json.Unmarshal(args[0], &text)
		}
		if err := c.Send(hub, "progress", text); err != nil {
			return nil, err
		}
		return "sent", nil
	case "void":
		return nil, nil
	case "emptyerr":
		return nil, errors.New("")
	case "unencodable":
		return func() {}, nil
	case "sleep":
		time.Sleep(300 * time.Millisecond)
		return "slept", nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownMethod, method)
}

// newTestServer serves a Server made from opt, after tweaks, on loopback.
func newTestServer(t *testing.T, opt Options, tweaks ...func(*Server)) (*Server, *httptest.Server) {
	t.Helper()
	if opt.Hubs == nil {
		opt.Hubs = []string{"signingHub"}
	}
	if opt.Invoke == nil {
		opt.Invoke = testInvoker
	}
	if opt.PollWait == 0 {
		opt.PollWait = 200 * time.Millisecond
	}
	s := New(opt)
	for _, tweak := range tweaks {
		tweak(s)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts
}

// client speaks the protocol as signalr-no-jquery does.
type client struct {
	t         *testing.T
	base      string // http://127.0.0.1:N/signalr
	origin    string
	token     string
	data      string // connectionData
	transport string
}

func newClient(t *testing.T, ts *httptest.Server) *client {
	return &client{t: t, base: ts.URL + "/signalr", origin: testOrigin, data: `[{"name":"signinghub"}]`, transport: longPolling}
}

// answer is one HTTP response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d %q is not a JSON object: %v", a.status, a.body, err)
	}
	return m
}

// errorCode checks that a is cardbridge's error body and returns its code.
func (a answer) errorCode(t *testing.T) api.Code {
	t.Helper()
	var b api.ErrorBody
	if err := json.Unmarshal(a.body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("answer %d %q is not an error body", a.status, a.body)
	}
	return b.Error.Code
}

// query builds the query the client sends to endpoint.
func (c *client) query(endpoint string) url.Values {
	q := url.Values{"clientProtocol": {"2.1"}, "_": {"1700000000000"}}
	if endpoint != "negotiate" && endpoint != "ping" {
		q.Set("transport", c.transport)
	}
	if c.token != "" {
		q.Set("connectionToken", c.token)
	}
	if c.data != "" {
		q.Set("connectionData", c.data)
	}
	return q
}

// do sends a request as the client does: form bodies for POST.
func (c *client) do(method, endpoint string, q url.Values, form url.Values) answer {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+"/"+endpoint+"?"+q.Encode(), body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read: %v", method, endpoint, err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// negotiate negotiates and keeps the token.
func (c *client) negotiate() map[string]any {
	c.t.Helper()
	a := c.do("GET", "negotiate", c.query("negotiate"), nil)
	if a.status != 200 {
		c.t.Fatalf("negotiate: %d %s", a.status, a.body)
	}
	m := a.json(c.t)
	c.token, _ = m["ConnectionToken"].(string)
	return m
}

// invoke sends a hub invocation and returns the send answer.
func (c *client) invoke(id int, method string, args ...any) answer {
	c.t.Helper()
	if args == nil {
		args = []any{}
	}
	data, _ := json.Marshal(map[string]any{"H": "signinghub", "M": method, "A": args, "I": id})
	return c.do("POST", "send", c.query("send"), url.Values{"data": {string(data)}})
}

// poll polls from messageId.
func (c *client) poll(messageID string) answer {
	c.t.Helper()
	return c.do("POST", "poll", c.query("poll"), url.Values{"messageId": {messageID}})
}

func checkJSONHeaders(t *testing.T, what string, a answer) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, cc)
	}
}

// TestProtocolLongPolling drives a whole connection by hand, as
// signalr-no-jquery does with transport longPolling.
func TestProtocolLongPolling(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	c := newClient(t, ts)

	neg := c.do("GET", "negotiate", c.query("negotiate"), nil)
	checkJSONHeaders(t, "negotiate", neg)
	var n negotiateResponse
	if err := json.Unmarshal(neg.body, &n); err != nil || neg.status != 200 {
		t.Fatalf("negotiate: %d %s %v", neg.status, neg.body, err)
	}
	c.token = n.ConnectionToken
	if n.URL != "/signalr" || n.ProtocolVersion != "2.1" || n.TryWebSockets ||
		n.KeepAliveTimeout != 20 || n.DisconnectTimeout != 30 || n.ConnectionTimeout != 110 ||
		n.TransportConnectTimeout != 5 || n.LongPollDelay != 0 || len(n.ConnectionToken) < 40 || len(n.ConnectionID) != 36 {
		t.Errorf("negotiate answer %s", neg.body)
	}
	for _, k := range []string{"Url", "ConnectionToken", "ConnectionId", "KeepAliveTimeout", "DisconnectTimeout", "ConnectionTimeout", "TryWebSockets", "ProtocolVersion", "TransportConnectTimeout", "LongPollDelay"} {
		if _, ok := neg.json(t)[k]; !ok {
			t.Errorf("negotiate answer lacks %s: %s", k, neg.body)
		}
	}

	con := c.do("POST", "connect", c.query("connect"), url.Values{})
	checkJSONHeaders(t, "connect", con)
	if con.status != 200 || string(con.body) != `{"C":"0","S":1,"M":[]}` {
		t.Fatalf("connect: %d %s", con.status, con.body)
	}

	start := c.do("GET", "start", c.query("start"), nil)
	if start.status != 200 || string(start.body) != `{"Response":"started"}` {
		t.Fatalf("start: %d %s", start.status, start.body)
	}

	sent := c.invoke(0, "requestToSign", "eyJhbGdvcml0aG0iOiJSUzI1NiJ9")
	checkJSONHeaders(t, "send", sent)
	want := `{"I":"0","R":{"args":["eyJhbGdvcml0aG0iOiJSUzI1NiJ9"],"hub":"signingHub","method":"requestToSign","origin":"https://my.esr.nhs.uk"}}`
	if sent.status != 200 || string(sent.body) != want {
		t.Fatalf("send: %d %s, want %s", sent.status, sent.body, want)
	}

	begin := time.Now()
	p := c.poll("0")
	if d := time.Since(begin); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("an empty poll took %v, want PollWait (200ms)", d)
	}
	checkJSONHeaders(t, "poll", p)
	if p.status != 200 || string(p.body) != `{"C":"0","M":[]}` {
		t.Fatalf("poll: %d %s", p.status, p.body)
	}

	ping := c.do("GET", "ping", url.Values{"_": {"1"}}, nil)
	if ping.status != 200 || string(ping.body) != `{"Response":"pong"}` {
		t.Fatalf("ping: %d %s", ping.status, ping.body)
	}

	if s.Count() != 1 {
		t.Errorf("Count = %d before abort", s.Count())
	}
	ab := c.do("POST", "abort", c.query("abort"), nil)
	if ab.status != 200 || string(ab.body) != `{}` {
		t.Fatalf("abort: %d %s", ab.status, ab.body)
	}
	if s.Count() != 0 {
		t.Errorf("Count = %d after abort", s.Count())
	}

	// The token is dead now, for every endpoint.
	for _, ep := range []struct{ method, endpoint string }{
		{"POST", "poll"}, {"POST", "send"}, {"GET", "start"}, {"POST", "connect"}, {"POST", "reconnect"}, {"POST", "abort"},
	} {
		a := c.do(ep.method, ep.endpoint, c.query(ep.endpoint), url.Values{"data": {`{"H":"signinghub","M":"requestToSign","A":[],"I":1}`}})
		if a.status != http.StatusForbidden || a.errorCode(t) != api.CodeBadRequest {
			t.Errorf("%s after abort: %d %s, want 403", ep.endpoint, a.status, a.body)
		}
	}
}

// TestMessages: a poll returns queued client hub calls at once, a waiting
// poll wakes when one is queued, and cursors acknowledge.
func TestMessages(t *testing.T) {
	_, ts := newTestServer(t, Options{PollWait: 5 * time.Second})
	c := newClient(t, ts)
	c.negotiate()
	c.do("POST", "connect", c.query("connect"), url.Values{})

	if a := c.invoke(1, "notify", "one"); string(a.body) != `{"I":"1","R":"sent"}` {
		t.Fatalf("notify: %s", a.body)
	}
	c.invoke(2, "notify", "two")
	begin := time.Now()
	a := c.poll("0")
	if time.Since(begin) > time.Second {
		t.Errorf("a poll with messages queued waited %v", time.Since(begin))
	}
	want := `{"C":"2","M":[{"H":"signingHub","M":"progress","A":["one"]},{"H":"signingHub","M":"progress","A":["two"]}]}`
	if string(a.body) != want {
		t.Fatalf("poll: %s, want %s", a.body, want)
	}
	// Polling from 1 again delivers only what is after it.
	if a := c.poll("1"); string(a.body) != `{"C":"2","M":[{"H":"signingHub","M":"progress","A":["two"]}]}` {
		t.Fatalf("poll from 1: %s", a.body)
	}

	// A waiting poll wakes when a message is queued.
	done := make(chan answer, 1)
	go func() { done <- c.poll("2") }()
	time.Sleep(100 * time.Millisecond)
	begin = time.Now()
	c.invoke(3, "notify", "three")
	select {
	case a := <-done:
		if string(a.body) != `{"C":"3","M":[{"H":"signingHub","M":"progress","A":["three"]}]}` {
			t.Fatalf("woken poll: %s", a.body)
		}
		if time.Since(begin) > 2*time.Second {
			t.Errorf("the poll woke after %v", time.Since(begin))
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the waiting poll did not wake")
	}

	// A hub the client did not subscribe to cannot be sent.
	c2 := newClient(t, ts)
	c2.data = "[]"
	c2.negotiate()
	if a := c2.invoke(0, "notify", "x"); !strings.Contains(string(a.body), "not subscribed") {
		t.Errorf("notify without subscription: %s", a.body)
	}
}

// TestNewerPollEndsOlder: a second poll on one connection makes the first
// return at once, empty.
func TestNewerPollEndsOlder(t *testing.T) {
	_, ts := newTestServer(t, Options{PollWait: 10 * time.Second})
	c := newClient(t, ts)
	c.negotiate()
	first := make(chan answer, 1)
	go func() { first <- c.poll("0") }()
	time.Sleep(100 * time.Millisecond)
	second := make(chan answer, 1)
	go func() { second <- c.poll("0") }()
	select {
	case a := <-first:
		if string(a.body) != `{"C":"0","M":[]}` {
			t.Errorf("superseded poll: %s", a.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the older poll did not end")
	}
	c.invoke(0, "notify", "x")
	if a := <-second; !strings.Contains(string(a.body), `"x"`) {
		t.Errorf("newer poll: %s", a.body)
	}
}

// TestProtocolVersions: negotiate echoes 1.3 to 2.1 and refuses the rest.
func TestProtocolVersions(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for _, v := range []string{"1.3", "1.4", "1.5", "2.0", "2.1"} {
		c := newClient(t, ts)
		q := c.query("negotiate")
		q.Set("clientProtocol", v)
		a := c.do("GET", "negotiate", q, nil)
		if a.status != 200 || a.json(t)["ProtocolVersion"] != v {
			t.Errorf("clientProtocol %s: %d %s", v, a.status, a.body)
		}
	}
	for _, v := range []string{"", "1.2", "2.2", "3.0", "2.1.0", "abc", " 2.1"} {
		c := newClient(t, ts)
		q := c.query("negotiate")
		q.Set("clientProtocol", v)
		a := c.do("GET", "negotiate", q, nil)
		if a.status != http.StatusBadRequest || a.errorCode(t) != api.CodeBadRequest {
			t.Errorf("clientProtocol %q: %d %s, want 400", v, a.status, a.body)
		}
	}
	c := newClient(t, ts)
	q := c.query("negotiate")
	q.Del("clientProtocol")
	if a := c.do("GET", "negotiate", q, nil); a.status != http.StatusBadRequest {
		t.Errorf("no clientProtocol: %d %s", a.status, a.body)
	}
}

// TestHubNames: hubs match in any case, in connectionData and in H, and
// the Invoker gets the configured name.
func TestHubNames(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	for _, name := range []string{"signingHub", "signinghub", "SIGNINGHUB"} {
		c := newClient(t, ts)
		c.data = `[{"name":"` + name + `"}]`
		c.negotiate()
		data := `{"H":"` + name + `","M":"requestToSign","A":[1],"I":"7"}`
		a := c.do("POST", "send", c.query("send"), url.Values{"data": {data}})
		if !strings.Contains(string(a.body), `"hub":"signingHub"`) || !strings.Contains(string(a.body), `"I":"7"`) {
			t.Errorf("hub %s: %s", name, a.body)
		}
	}
}

// TestInvocationResults: every kind of Invoker outcome reaches the client
// in the shape jquery.signalR reads.
func TestInvocationResults(t *testing.T) {
	_, ts := newTestServer(t, Options{InvokeTimeout: 300 * time.Millisecond})
	c := newClient(t, ts)
	c.negotiate()
	for _, tc := range []struct{ method, want string }{
		{"fail", `{"I":"3","E":"sign: no card"}`},
		{"hubfail", `{"I":"3","E":"hub says no","H":true,"D":{"code":7}}`},
		{"nosuch", `{"I":"3","E":"'nosuch' method could not be resolved."}`},
		{"panic", `{"I":"3","E":"There was an error invoking Hub method 'signingHub.panic'."}`},
		{"void", `{"I":"3"}`},
		{"emptyerr", `{"I":"3","E":"There was an error invoking Hub method 'signingHub.emptyerr'."}`},
		{"unencodable", `{"I":"3","E":"The result of hub method 'signingHub.unencodable' could not be encoded."}`},
		{"block", `{"I":"3","E":"Hub method 'signingHub.block' timed out after 300ms."}`},
	} {
		a := c.invoke(3, tc.method)
		if a.status != 200 || string(a.body) != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.method, a.status, a.body, tc.want)
		}
	}
	// An unknown hub in H is an invocation error, not a transport one.
	a := c.do("POST", "send", c.query("send"), url.Values{"data": {`{"H":"nohub","M":"x","A":[],"I":4}`}})
	if a.status != 200 || string(a.body) != `{"I":"4","E":"'nohub' Hub could not be resolved."}` {
		t.Errorf("unknown hub: %d %s", a.status, a.body)
	}
}

// TestAbortCancelsInvocation: aborting a connection ends its invocations'
// contexts and their send requests.
func TestAbortCancelsInvocation(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	c := newClient(t, ts)
	c.negotiate()
	done := make(chan answer, 1)
	go func() { done <- c.invoke(0, "block") }()
	time.Sleep(100 * time.Millisecond)
	if a := c.do("POST", "abort", c.query("abort"), nil); a.status != 200 {
		t.Fatalf("abort: %d %s", a.status, a.body)
	}
	select {
	case a := <-done:
		if string(a.body) != `{"I":"0","E":"The connection ended before the hub method returned."}` {
			t.Errorf("send during abort: %s", a.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("abort did not end the invocation")
	}
}

// TestBadInputs: each malformed request gets the status the client handles
// and cardbridge's error body, and nothing panics.
func TestBadInputs(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	good := newClient(t, ts)
	good.negotiate()
	token := good.token

	big := `[{"name":"signinghub"}` + strings.Repeat(` `, maxConnectionData) + `]`
	for _, tc := range []struct {
		name     string
		method   string
		endpoint string
		edit     func(q url.Values)
		form     url.Values
		origin   *string
		status   int
		code     api.Code
	}{
		{name: "unknown hub in connectionData", method: "GET", endpoint: "negotiate", edit: func(q url.Values) { q.Set("connectionData", `[{"name":"nohub"}]`) }, status: 400, code: api.CodeBadRequest},
		{name: "duplicate hub in connectionData", method: "GET", endpoint: "negotiate", edit: func(q url.Values) { q.Set("connectionData", `[{"name":"signinghub"},{"name":"SigningHub"}]`) }, status: 400, code: api.CodeBadRequest},
		{name: "connectionData not JSON", method: "GET", endpoint: "negotiate", edit: func(q url.Values) { q.Set("connectionData", `[{"name":`) }, status: 400, code: api.CodeBadRequest},
		{name: "connectionData wrong type", method: "GET", endpoint: "negotiate", edit: func(q url.Values) { q.Set("connectionData", `{"name":"signinghub"}`) }, status: 400, code: api.CodeBadRequest},
		{name: "oversized connectionData", method: "GET", endpoint: "negotiate", edit: func(q url.Values) { q.Set("connectionData", big) }, status: 400, code: api.CodeBadRequest},
		{name: "oversized connectionData on send", method: "POST", endpoint: "send", edit: func(q url.Values) { q.Set("connectionData", big) }, form: url.Values{"data": {`{"H":"signinghub","M":"void","I":0}`}}, status: 400, code: api.CodeBadRequest},
		{name: "JSONP", method: "GET", endpoint: "negotiate", edit: func(q url.Values) { q.Set("callback", "cb") }, status: 400, code: api.CodeBadRequest},
		{name: "missing token", method: "POST", endpoint: "send", edit: func(q url.Values) { q.Del("connectionToken") }, form: url.Values{"data": {`{}`}}, status: 400, code: api.CodeBadRequest},
		{name: "empty token", method: "POST", endpoint: "poll", edit: func(q url.Values) { q.Set("connectionToken", "") }, status: 400, code: api.CodeBadRequest},
		{name: "two tokens", method: "POST", endpoint: "poll", edit: func(q url.Values) { q.Add("connectionToken", token) }, status: 400, code: api.CodeBadRequest},
		{name: "unknown token", method: "POST", endpoint: "poll", edit: func(q url.Values) { q.Set("connectionToken", otherToken(token)) }, status: 403, code: api.CodeBadRequest},
		{name: "huge token", method: "GET", endpoint: "start", edit: func(q url.Values) { q.Set("connectionToken", strings.Repeat("A", 4000)) }, status: 403, code: api.CodeBadRequest},
		{name: "token from another origin", method: "GET", endpoint: "start", origin: new("https://evil.example"), status: 403, code: api.CodeOriginNotAllowed},
		{name: "token without origin", method: "GET", endpoint: "start", origin: new(""), status: 403, code: api.CodeOriginNotAllowed},
		{name: "webSockets transport", method: "GET", endpoint: "connect", edit: func(q url.Values) { q.Set("transport", "webSockets") }, status: 400, code: api.CodeBadRequest},
		{name: "foreverFrame transport", method: "GET", endpoint: "connect", edit: func(q url.Values) { q.Set("transport", "foreverFrame") }, status: 400, code: api.CodeBadRequest},
		{name: "no transport", method: "GET", endpoint: "start", edit: func(q url.Values) { q.Del("transport") }, status: 400, code: api.CodeBadRequest},
		{name: "missing data", method: "POST", endpoint: "send", form: url.Values{}, status: 400, code: api.CodeBadRequest},
		{name: "two data fields", method: "POST", endpoint: "send", form: url.Values{"data": {`{"H":"signinghub","M":"void","I":0}`, `{"H":"signinghub","M":"void","I":1}`}}, status: 400, code: api.CodeBadRequest},
		{name: "malformed data", method: "POST", endpoint: "send", form: url.Values{"data": {`{"H":"signinghub","M":`}}, status: 400, code: api.CodeBadRequest},
		{name: "data is an array", method: "POST", endpoint: "send", form: url.Values{"data": {`[1,2]`}}, status: 400, code: api.CodeBadRequest},
		{name: "data without I", method: "POST", endpoint: "send", form: url.Values{"data": {`{"H":"signinghub","M":"void","A":[]}`}}, status: 400, code: api.CodeBadRequest},
		{name: "data with A an object", method: "POST", endpoint: "send", form: url.Values{"data": {`{"H":"signinghub","M":"void","A":{},"I":0}`}}, status: 400, code: api.CodeBadRequest},
		{name: "data with trailing garbage", method: "POST", endpoint: "send", form: url.Values{"data": {`{"H":"signinghub","M":"void","I":0}}`}}, status: 400, code: api.CodeBadRequest},
		{name: "oversized body", method: "POST", endpoint: "send", form: url.Values{"data": {strings.Repeat("x", maxBody)}}, status: 413, code: api.CodeBadRequest},
		{name: "send with GET", method: "GET", endpoint: "send", status: 405, code: api.CodeBadRequest},
		{name: "abort with GET", method: "GET", endpoint: "abort", status: 405, code: api.CodeBadRequest},
		{name: "PUT", method: "PUT", endpoint: "negotiate", status: 405, code: api.CodeBadRequest},
		{name: "unknown endpoint", method: "GET", endpoint: "hubz", status: 404, code: api.CodeBadRequest},
		{name: "malformed messageId", method: "POST", endpoint: "poll", form: url.Values{"messageId": {"d-1,2|x"}}, status: 400, code: api.CodeBadRequest},
		{name: "poll over serverSentEvents", method: "POST", endpoint: "poll", edit: func(q url.Values) { q.Set("transport", serverSentEvents) }, status: 400, code: api.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, ts)
			c.token = token
			if tc.endpoint == "negotiate" {
				c.token = ""
			}
			if tc.origin != nil {
				c.origin = *tc.origin
			}
			q := c.query(tc.endpoint)
			if tc.edit != nil {
				tc.edit(q)
			}
			a := c.do(tc.method, tc.endpoint, q, tc.form)
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.status)
			}
			checkJSONHeaders(t, tc.name, a)
			if code := a.errorCode(t); code != tc.code {
				t.Errorf("code %s, want %s", code, tc.code)
			}
		})
	}
	// The good connection survived all that.
	if a := good.invoke(9, "void"); string(a.body) != `{"I":"9"}` {
		t.Errorf("after bad inputs: %s", a.body)
	}
}

// otherToken returns a token one character away from tok.
func otherToken(tok string) string {
	if tok[0] == 'x' {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}

// TestCrossSiteNegotiateWithoutOrigin: an <img> or <script> include from
// another site cannot open connections.
func TestCrossSiteNegotiateWithoutOrigin(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	req, _ := http.NewRequest("GET", ts.URL+"/signalr/negotiate?clientProtocol=2.1", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "no-cors")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
}

// TestIdleCleanup: a connection with no request for DisconnectTimeout is
// removed and its token refused; one with a poll in flight is kept.
func TestIdleCleanup(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1_700_000_000, 0))
	s, ts := newTestServer(t, Options{Now: clock.Now, PollWait: 10 * time.Second}, onlyTestSweeps)
	idle := newClient(t, ts)
	idle.negotiate()
	busy := newClient(t, ts)
	busy.negotiate()
	polled := make(chan answer, 1)
	go func() { polled <- busy.poll("0") }()
	waitPolled(t, s, busy.token)

	clock.Advance(disconnectTimeout - time.Second)
	if n := s.sweep(); n != 0 {
		t.Fatalf("sweep before DisconnectTimeout removed %d", n)
	}
	if a := idle.do("GET", "start", idle.query("start"), nil); a.status != 200 {
		t.Fatalf("start: %d %s", a.status, a.body)
	}
	// That request renewed it.
	clock.Advance(disconnectTimeout - time.Second)
	if n := s.sweep(); n != 0 {
		t.Fatalf("sweep removed %d, want the renewed and the busy connection kept", n)
	}
	clock.Advance(2 * time.Second)
	if n := s.sweep(); n != 1 {
		t.Fatalf("sweep after DisconnectTimeout removed %d, want 1", n)
	}
	if a := idle.do("GET", "start", idle.query("start"), nil); a.status != http.StatusForbidden {
		t.Errorf("start on a removed connection: %d %s", a.status, a.body)
	}
	// The busy one's poll is still answered normally, later.
	busy.invoke(0, "notify", "still here")
	if a := <-polled; !strings.Contains(string(a.body), "still here") {
		t.Errorf("busy poll: %s", a.body)
	}
	if s.Count() != 1 {
		t.Errorf("Count = %d, want 1", s.Count())
	}
}

// onlyTestSweeps keeps the janitor from sweeping during a test.
func onlyTestSweeps(s *Server) { s.sweepEvery = time.Hour }

// TestJanitor: idle connections go without anyone calling sweep.
func TestJanitor(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1_700_000_000, 0))
	s, ts := newTestServer(t, Options{Now: clock.Now}, func(s *Server) { s.sweepEvery = 10 * time.Millisecond })
	c := newClient(t, ts)
	c.negotiate()
	time.Sleep(50 * time.Millisecond)
	if s.Count() != 1 {
		t.Fatalf("Count = %d before DisconnectTimeout", s.Count())
	}
	clock.Advance(disconnectTimeout)
	testutil.WaitFor(t, 5*time.Second, 5*time.Millisecond, "every connection to be dropped", func() bool { return s.Count() == 0 })
}

// TestMaxConns: a full server drops the connection idle longest, and
// refuses when none is idle.
func TestMaxConns(t *testing.T) {
	clock := testutil.NewClock(time.Unix(1_700_000_000, 0))
	s, ts := newTestServer(t, Options{Now: clock.Now, MaxConns: 3, PollWait: 10 * time.Second}, onlyTestSweeps)
	var cs []*client
	for range 3 {
		c := newClient(t, ts)
		c.negotiate()
		cs = append(cs, c)
		clock.Advance(time.Second)
	}
	// Touch the first, so the second is idle longest.
	cs[0].do("GET", "start", cs[0].query("start"), nil)
	c4 := newClient(t, ts)
	c4.negotiate()
	if s.Count() != 3 {
		t.Errorf("Count = %d, want 3", s.Count())
	}
	if a := cs[1].do("GET", "start", cs[1].query("start"), nil); a.status != http.StatusForbidden {
		t.Errorf("the dropped connection: %d", a.status)
	}
	for _, c := range []*client{cs[0], cs[2], c4} {
		if a := c.do("GET", "start", c.query("start"), nil); a.status != 200 {
			t.Errorf("a kept connection: %d %s", a.status, a.body)
		}
	}

	// All three busy: the next negotiate is refused.
	var wg sync.WaitGroup
	for _, c := range []*client{cs[0], cs[2], c4} {
		wg.Add(1)
		go func() { defer wg.Done(); c.poll("0") }()
		waitPolled(t, s, c.token)
	}
	c5 := newClient(t, ts)
	a := c5.do("GET", "negotiate", c5.query("negotiate"), nil)
	if a.status != http.StatusServiceUnavailable || a.errorCode(t) != api.CodeBusy {
		t.Errorf("negotiate on a full server: %d %s", a.status, a.body)
	}
	s.Close() // ends the polls
	wg.Wait()
}

// TestClose: Close ends pending polls and streams at once, and the server
// refuses requests afterwards.
func TestClose(t *testing.T) {
	s, ts := newTestServer(t, Options{PollWait: time.Minute})
	c := newClient(t, ts)
	c.negotiate()
	done := make(chan answer, 1)
	go func() { done <- c.poll("0") }()
	waitPolled(t, s, c.token)
	s.Close()
	select {
	case a := <-done:
		if a.status != 200 || string(a.body) != `{"C":"0","M":[]}` {
			t.Errorf("poll ended by Close: %d %s", a.status, a.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the poll")
	}
	c2 := newClient(t, ts)
	if a := c2.do("GET", "negotiate", c2.query("negotiate"), nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("negotiate after Close: %d", a.status)
	}
	if a := c.do("GET", "ping", url.Values{}, nil); a.status != 200 {
		t.Errorf("ping after Close: %d", a.status)
	}
	s.Close() // twice is fine
}

// TestLongRequestsOutliveServerTimeouts: polls and invocations that last
// longer than the HTTP server's ReadTimeout and WriteTimeout still answer.
func TestLongRequestsOutliveServerTimeouts(t *testing.T) {
	s := New(Options{Hubs: []string{"signingHub"}, Invoke: testInvoker, PollWait: 600 * time.Millisecond})
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ReadTimeout = 150 * time.Millisecond
	ts.Config.WriteTimeout = 150 * time.Millisecond
	ts.Start()
	t.Cleanup(func() { s.Close(); ts.Close() })
	c := newClient(t, ts)
	c.negotiate()
	if a := c.poll("0"); a.status != 200 || string(a.body) != `{"C":"0","M":[]}` {
		t.Errorf("poll: %d %s", a.status, a.body)
	}
	if a := c.invoke(0, "sleep"); a.status != 200 || string(a.body) != `{"I":"0","R":"slept"}` {
		t.Errorf("send: %d %s", a.status, a.body)
	}
}

// TestServerSentEvents: the optional transport streams the init message,
// queued messages and keep-alives, and a reconnect resumes from messageId.
func TestServerSentEvents(t *testing.T) {
	_, ts := newTestServer(t, Options{}, func(s *Server) { s.keepAlive = 100 * time.Millisecond })
	c := newClient(t, ts)
	c.transport = serverSentEvents
	c.negotiate()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openStream(t, ctx, c, "connect", "")
	next := func() string {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5 s")
			return ""
		}
	}
	if e := next(); e != "initialized" {
		t.Fatalf("first event %q", e)
	}
	if e := next(); e != `{"C":"0","S":1,"M":[]}` {
		t.Fatalf("init event %q", e)
	}
	if a := c.do("GET", "start", c.query("start"), nil); string(a.body) != `{"Response":"started"}` {
		t.Fatalf("start: %s", a.body)
	}
	if a := c.invoke(0, "notify", "hello"); string(a.body) != `{"I":"0","R":"sent"}` {
		t.Fatalf("send: %s", a.body)
	}
	e := next()
	for e == "{}" {
		e = next()
	}
	if e != `{"C":"1","M":[{"H":"signingHub","M":"progress","A":["hello"]}]}` {
		t.Fatalf("message event %q", e)
	}
	if e := next(); e != "{}" {
		t.Fatalf("keep-alive event %q", e)
	}

	// A reconnect takes over from the first stream, which ends.
	c.invoke(1, "notify", "again")
	events2 := openStream(t, ctx, c, "reconnect", "1")
	for e := range events {
		if strings.Contains(e, "again") {
			continue // the first stream may have carried it before the reconnect
		}
		if e != "{}" {
			t.Errorf("first stream after reconnect: %q", e)
		}
	}
	if e := <-events2; e != "initialized" {
		t.Fatalf("reconnect first event %q", e)
	}
}

// openStream opens an event stream and returns its data lines.
func openStream(t *testing.T, ctx context.Context, c *client, endpoint, messageID string) <-chan string {
	t.Helper()
	q := c.query(endpoint)
	if messageID != "" {
		q.Set("messageId", messageID)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/"+endpoint+"?"+q.Encode(), nil)
	req.Header.Set("Origin", c.origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("%s: %d %q %s", endpoint, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case events <- data:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return events
}

// TestConcurrency runs many clients at once, with messages, invocations,
// sweeps and aborts, for the race detector.
func TestConcurrency(t *testing.T) {
	s, ts := newTestServer(t, Options{PollWait: 50 * time.Millisecond, MaxConns: 20})
	var failures atomic.Int32
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, base: ts.URL + "/signalr", origin: testOrigin, data: `[{"name":"signinghub"}]`, transport: longPolling}
			a := c.do("GET", "negotiate", c.query("negotiate"), nil)
			if a.status != 200 {
				return // full of busy connections: allowed
			}
			c.token = a.json(t)["ConnectionToken"].(string)
			c.do("POST", "connect", c.query("connect"), url.Values{})
			var inner sync.WaitGroup
			for j := range 4 {
				inner.Add(2)
				go func() {
					defer inner.Done()
					a := c.invoke(j, "notify", fmt.Sprint(i, j))
					if a.status != 200 && a.status != http.StatusForbidden {
						failures.Add(1)
					}
					c.invoke(j+100, "requestToSign", j)
				}()
				go func() {
					defer inner.Done()
					c.poll(fmt.Sprint(j))
					s.sweep()
				}()
			}
			inner.Wait()
			c.do("POST", "abort", c.query("abort"), nil)
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Errorf("%d invocations failed", failures.Load())
	}
	if s.Count() != 0 {
		t.Errorf("Count = %d after every client aborted", s.Count())
	}
}

// waitPolled waits up to 5 s until the connection with token has a poll waiting.
func waitPolled(t *testing.T, s *Server, token string) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, 5*time.Millisecond, "a poll to wait on "+token, func() bool { _, idle := s.lookup(token).idleSince(); return !idle })
}
