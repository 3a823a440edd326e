package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

var invocationSeeds = []string{
	`{"H":"signinghub","M":"requestToSign","A":["eyJ2ZXJzaW9uIjoxfQ=="],"I":0}`,
	`{"H":"signinghub","M":"requestToSign","A":[],"I":"12","S":{"a":1}}`,
	`{"H":"signinghub","M":"x","I":-1.5e3}`,
	`{"H":"signinghub","M":"x","A":null,"I":1,"S":null}`,
	`{"H":"","M":"x","I":1}`,
	`{"H":1,"M":"x","I":1}`,
	`{"H":"h","M":"x","I":true}`,
	`{"H":"h","M":"x","I":1,"S":[]}`,
	`{"H":"h","M":"x","I":1} {}`,
	`{"H":"h","H":"g","M":"x","I":1}`,
	`[{"H":"h"}]`,
	`null`,
	`{"H":"h","M":"x","A":[{"deep":[[[[1]]]]},"\u00e9",1e400],"I":1}`,
	"",
}

// FuzzParseInvocation: the send body's invocation parser never panics, and
// what it accepts is within bounds and parses the same again.
func FuzzParseInvocation(f *testing.F) {
	for _, s := range invocationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := parseInvocation(data)
		if err != nil {
			return
		}
		if inv.Hub == "" || len(inv.Hub) > maxNameLen || inv.Method == "" || len(inv.Method) > maxNameLen {
			t.Fatalf("accepted names %q %q", inv.Hub, inv.Method)
		}
		if inv.ID == "" || len(inv.ID) > maxIDLen {
			t.Fatalf("accepted id %q", inv.ID)
		}
		if inv.Args == nil || len(inv.Args) > maxArgs {
			t.Fatalf("accepted %d args", len(inv.Args))
		}
		for _, a := range inv.Args {
			if !json.Valid(a) {
				t.Fatalf("argument %q is not JSON", a)
			}
		}
		again, err := json.Marshal(map[string]any{"H": inv.Hub, "M": inv.Method, "A": inv.Args, "I": inv.ID})
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		inv2, err := parseInvocation(again)
		if err != nil || inv2.Hub != inv.Hub || inv2.Method != inv.Method || inv2.ID != inv.ID || len(inv2.Args) != len(inv.Args) {
			t.Fatalf("round trip of %q: %+v, %v", again, inv2, err)
		}
	})
}

// FuzzSend: any send body, of any content type, gets a JSON answer with a
// status the client handles (200 with "I", 400 or 413), and never a panic.
func FuzzSend(f *testing.F) {
	for _, s := range invocationSeeds {
		f.Add("data="+url.QueryEscape(s), true)
	}
	f.Add("data=%zz", true)
	f.Add("data=1&data=2", true)
	f.Add(`{"H":"signinghub","M":"x","I":1}`, false)
	f.Add("", true)

	s := New(Options{
		Hubs:          []string{"signingHub"},
		InvokeTimeout: 50 * time.Millisecond,
		Invoke: func(ctx context.Context, c *Conn, hub, method string, args []json.RawMessage) (any, error) {
			if method == "requestToSign" {
				return args, nil
			}
			return nil, ErrUnknownMethod
		},
	})
	defer s.Close()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/signalr/negotiate?clientProtocol=2.1", nil))
	var n negotiateResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &n); err != nil {
		f.Fatal(err)
	}
	target := "/signalr/send?transport=longPolling&clientProtocol=2.1&connectionToken=" + url.QueryEscape(n.ConnectionToken)

	f.Fuzz(func(t *testing.T, body string, form bool) {
		req := httptest.NewRequest("POST", target, bytes.NewReader([]byte(body)))
		if form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		} else {
			req.Header.Set("Content-Type", "text/plain")
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer %d %q is not JSON", rec.Code, rec.Body.Bytes())
		}
		switch rec.Code {
		case http.StatusOK:
			if _, ok := m["I"].(string); !ok {
				t.Fatalf("200 without I: %q", rec.Body.Bytes())
			}
			if _, ok := m["E"]; !ok {
				if _, ok := m["R"]; !ok {
					t.Fatalf("200 with neither R nor E: %q", rec.Body.Bytes())
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if _, ok := m["error"]; !ok {
				t.Fatalf("%d without an error body: %q", rec.Code, rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d: %q", rec.Code, rec.Body.Bytes())
		}
	})
}
