package httpapi

import (
	"context"
	"encoding/json"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/doctor"
	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/version"
)

// Diagnostics limits: a report younger than diagnosticsFresh is shown again
// rather than made anew (each look at the status page would otherwise run
// every check), and a run gets diagnosticsTimeout.
const (
	diagnosticsFresh   = 10 * time.Second
	diagnosticsTimeout = 5 * time.Second
)

// diagnostics runs the helpdesk check (package doctor, as `cardbridge
// doctor --json` would for this user) for the status page, one run at a
// time, and keeps the last report for a few seconds.
type diagnostics struct {
	run func(ctx context.Context) doctor.Report

	mu      sync.Mutex
	last    []byte    // the last report as indented JSON
	at      time.Time // when it was made
	key     string    // in what state
	running chan struct{}
}

// get returns the report as indented JSON: the last one while it is fresh
// and was made in the same state (key: what the agent sees of readers and
// cards), else a new one; it waits for a run under way rather than start
// another. It gives up when ctx ends.
func (d *diagnostics) get(ctx context.Context, key string) ([]byte, error) {
	for {
		d.mu.Lock()
		if d.last != nil && d.key == key && time.Since(d.at) < diagnosticsFresh {
			b := d.last
			d.mu.Unlock()
			return b, nil
		}
		if wait := d.running; wait != nil {
			d.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		d.running = done
		d.mu.Unlock()

		// The run is not tied to this request: a page closed early does
		// not waste it for the next one.
		rctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout+time.Second)
		rep := d.run(rctx)
		cancel()
		b, err := json.MarshalIndent(rep, "", "  ")
		d.mu.Lock()
		if err == nil {
			d.last, d.at, d.key = b, time.Now(), key
		}
		d.running = nil
		d.mu.Unlock()
		close(done)
		return b, err
	}
}

// runDoctor is the default diagnostics run: package doctor's checks on
// this machine, for this user, with the card as the agent read it.
func (s *Server) runDoctor(ctx context.Context) doctor.Report {
	opt := doctor.Options{
		Probes:   agentProbes{System: doctor.NewSystem(), backend: s.opt.Backend},
		AgentLog: s.opt.LogFile,
		Timeout:  diagnosticsTimeout,
		User:     describeUser(s.opt.Self.ID),
		Version:  version.Get().Version,
		PINEntry: s.pinEntry(),
	}
	if s.opt.PortService == nil || !s.opt.PortService() {
		// Standalone: doctor looks for the agent where it is.
		if p := s.Port(); p > 0 {
			opt.StandalonePort = p
		}
	}
	return doctor.Run(ctx, opt)
}

// pinEntry is the agent's PIN prompt program as its settings say
// (--pinentry, its environment variable or a policy), else as the
// environment says; "" for the platform's default.
func (s *Server) pinEntry() string {
	for _, st := range s.opt.Settings {
		if st.Name == "pinentry" {
			return st.Value
		}
	}
	return os.Getenv("CARDBRIDGE_PINENTRY")
}

// describeUser names the agent's user as `cardbridge doctor` does: "alice
// (uid:1000)".
func describeUser(id string) string {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return id
	}
	return u.Username + " (" + id + ")"
}

// agentProbes are doctor's probes of the real machine, except that cards
// are described as the agent read them, without asking a card again (it
// may be busy signing).
type agentProbes struct {
	*doctor.System
	backend Backend
}

// ReadCard describes the card in r as the agent knows it.
func (p agentProbes) ReadCard(_ context.Context, r pcsc.Reader) api.Card {
	for _, rd := range p.backend.Readers().Readers {
		if rd.Name == r.Name && rd.Card != nil && (rd.Card.UUID != "" || rd.Card.Error != nil) {
			return *rd.Card
		}
	}
	return api.Card{Present: true, Reader: r.Name, Error: &api.Error{Code: api.CodeBusy, Message: "the agent is still reading this card"}}
}
