package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cardbridge/cardbridge/api"
)

// Bounds of a hub invocation.
const (
	maxNameLen = 128 // H and M
	maxIDLen   = 64  // I
	maxArgs    = 64  // A
)

// invocation is a hub method call from the client:
// {"H":hub,"M":method,"A":[args],"I":id,"S":{state}}.
type invocation struct {
	Hub    string
	Method string
	Args   []json.RawMessage
	ID     string // as the client will look it up: I's string, or its number's text
}

// parseInvocation reads a send request's data field. Unknown members are
// ignored, as SignalR does; H, M and I are required, A may be absent or
// null, and S, the hub state, must be an object when present.
func parseInvocation(data []byte) (invocation, error) {
	var inv invocation
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil {
		return inv, fmt.Errorf("parse invocation: %w", err)
	}
	if fields == nil {
		return inv, errors.New("parse invocation: not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return inv, errors.New("parse invocation: data after the JSON object")
	}
	var err error
	if inv.Hub, err = nameField(fields, "H"); err != nil {
		return inv, err
	}
	if inv.Method, err = nameField(fields, "M"); err != nil {
		return inv, err
	}
	if inv.ID, err = idField(fields["I"]); err != nil {
		return inv, err
	}
	if a := fields["A"]; len(a) > 0 && string(a) != "null" {
		if err := json.Unmarshal(a, &inv.Args); err != nil {
			return inv, errors.New("parse invocation: A is not an array")
		}
		if len(inv.Args) > maxArgs {
			return inv, fmt.Errorf("parse invocation: more than %d arguments", maxArgs)
		}
	}
	if inv.Args == nil {
		inv.Args = []json.RawMessage{}
	}
	if st := fields["S"]; len(st) > 0 && string(st) != "null" {
		var state map[string]json.RawMessage
		if err := json.Unmarshal(st, &state); err != nil {
			return inv, errors.New("parse invocation: S is not an object")
		}
	}
	return inv, nil
}

// nameField reads the hub or method name member key.
func nameField(fields map[string]json.RawMessage, key string) (string, error) {
	raw, ok := fields[key]
	if !ok {
		return "", fmt.Errorf("parse invocation: missing %s", key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("parse invocation: %s is not a string", key)
	}
	if s == "" || len(s) > maxNameLen {
		return "", fmt.Errorf("parse invocation: %s must be 1 to %d bytes", key, maxNameLen)
	}
	return s, nil
}

// idField reads I: the client sends a number, SignalR answers with it as a
// string, and the client looks its callback up by the number's text.
func idField(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("parse invocation: missing I")
	}
	var id string
	switch {
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", errors.New("parse invocation: I is not a string or number")
		}
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", errors.New("parse invocation: I is not a string or number")
		}
		id = n.String()
	default:
		return "", errors.New("parse invocation: I is not a string or number")
	}
	if id == "" || len(id) > maxIDLen {
		return "", fmt.Errorf("parse invocation: I must be 1 to %d bytes", maxIDLen)
	}
	return id, nil
}

// send answers a send request: it runs the invocation in its data field
// and answers with its result.
func (s *Server) send(w http.ResponseWriter, r *http.Request, c *Conn) {
	vals := r.PostForm["data"]
	if len(vals) != 1 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "signalr send: want one form field data")
		return
	}
	inv, err := parseInvocation([]byte(vals[0]))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "signalr send: "+err.Error())
		return
	}
	hub, ok := s.hubs[strings.ToLower(inv.Hub)]
	if !ok {
		writeJSON(w, http.StatusOK, hubResult{I: inv.ID, E: fmt.Sprintf("'%s' Hub could not be resolved.", inv.Hub)})
		return
	}
	longRequest(w, s.invokeTimeout)
	res := s.call(r.Context(), c, hub, inv)
	if r.Context().Err() != nil {
		return // the page has gone
	}
	writeJSON(w, http.StatusOK, res)
}

// outcome is what an Invoker returned.
type outcome struct {
	v   any
	err error
}

// errPanic stands for an Invoker that panicked.
var errPanic = errors.New("panic")

// call runs one invocation in its own goroutine, bounded by ctx (the send
// request), the connection and the invoke timeout.
func (s *Server) call(reqCtx context.Context, c *Conn, hub string, inv invocation) hubResult {
	if !c.beginInvoke() {
		return hubResult{I: inv.ID, E: fmt.Sprintf("Too many hub method invocations in progress on this connection (%d).", maxInvocations)}
	}
	defer c.endInvoke()
	if s.invoke == nil {
		return s.result(hub, inv, outcome{err: ErrUnknownMethod})
	}
	ctx, cancel := context.WithTimeout(reqCtx, s.invokeTimeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()

	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error().Str("conn", c.id).Str("hub", hub).Str("method", inv.Method).Str("panic", fmt.Sprint(p)).Msg("hub method panicked")
				done <- outcome{err: errPanic}
			}
		}()
		v, err := s.invoke(ctx, c, hub, inv.Method, inv.Args)
		done <- outcome{v, err}
	}()
	// cut reports that the invocation ended because ctx did, which the
	// answer then says instead of the Invoker's context error.
	cut := func(o outcome) bool {
		return o.err != nil && ctx.Err() != nil &&
			(errors.Is(o.err, context.Canceled) || errors.Is(o.err, context.DeadlineExceeded))
	}
	select {
	case o := <-done:
		if !cut(o) {
			return s.result(hub, inv, o)
		}
	case <-ctx.Done():
		select {
		case o := <-done: // it finished as ctx ended
			if !cut(o) {
				return s.result(hub, inv, o)
			}
		default:
		}
	}
	msg := fmt.Sprintf("Hub method '%s.%s' timed out after %v.", hub, inv.Method, s.invokeTimeout)
	switch {
	case c.ctx.Err() != nil:
		msg = "The connection ended before the hub method returned."
	case reqCtx.Err() != nil:
		msg = "The request ended before the hub method returned."
	}
	s.log.Warn().Str("conn", c.id).Str("hub", hub).Str("method", inv.Method).Msg(msg)
	return hubResult{I: inv.ID, E: msg}
}

// result encodes what an Invoker returned as the client expects it.
func (s *Server) result(hub string, inv invocation, o outcome) hubResult {
	res := hubResult{I: inv.ID}
	var hubErr *HubError
	switch {
	case o.err == nil:
		if o.v == nil {
			return res // a method without a result: no "R"
		}
		b, err := json.Marshal(o.v)
		if err != nil {
			s.log.Error().Err(err).Str("hub", hub).Str("method", inv.Method).Msg("cannot encode hub method result")
			res.E = fmt.Sprintf("The result of hub method '%s.%s' could not be encoded.", hub, inv.Method)
			return res
		}
		res.R = b
		return res
	case errors.As(o.err, &hubErr):
		res.E, res.H = hubErr.Message, true
		if hubErr.Data != nil {
			if b, err := json.Marshal(hubErr.Data); err == nil {
				res.D = b
			}
		}
	case errors.Is(o.err, ErrUnknownMethod):
		res.E = fmt.Sprintf("'%s' method could not be resolved.", inv.Method)
	case o.err == errPanic:
		res.E = fmt.Sprintf("There was an error invoking Hub method '%s.%s'.", hub, inv.Method)
	default:
		res.E = o.err.Error()
	}
	if res.E == "" {
		// An empty "E" would read as success.
		res.E = fmt.Sprintf("There was an error invoking Hub method '%s.%s'.", hub, inv.Method)
	}
	return res
}
