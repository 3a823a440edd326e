package policy

import (
	"bytes"
	"context"
	"time"

	"github.com/rs/zerolog"
)

// FollowEvery is how often a running program reads the policies again for
// a changed DomainList: a change is in force within it.
const FollowEvery = 10 * time.Second

// Follower follows the DomainList the policies impose while a program
// runs: the port service, which sends it to every agent, and the agent,
// which puts it above its own list. It logs each change once, and a
// DomainListFile that cannot be read once per problem, keeping the list
// in force.
type Follower struct {
	// Load reads the policies (Load when nil).
	Load func() *Set
	Log  zerolog.Logger
	// Every is how often Follow reads them (FollowEvery when zero).
	Every time.Duration

	cur     *Imposed // the list imposed now; nil when none
	lastErr string   // the problem last logged
}

// Update reads the policies once. It returns the list they impose (nil
// when none) and whether that differs from what Update returned before.
// It is not safe for concurrent use: one goroutine updates.
func (f *Follower) Update() (now *Imposed, changed bool) {
	load := f.Load
	if load == nil {
		load = Load
	}
	imp, err := load().DomainList()
	if err != nil {
		if msg := err.Error(); msg != f.lastErr {
			f.lastErr = msg
			f.Log.Error().Err(err).Msg("keeping the DomainList in force")
		}
		return f.cur, false
	}
	f.lastErr = ""
	old := f.cur
	switch {
	case imp == nil && old == nil:
		return nil, false
	case imp == nil:
		f.cur = nil
		f.Log.Info().Msg("no DomainList policy any more; back to the DomainList underneath")
		return nil, true
	case old != nil && old.Source == imp.Source && bytes.Equal(old.List.Format(), imp.List.Format()):
		return old, false
	}
	for _, e := range imp.Bad {
		f.Log.Warn().Str("policy", imp.Source).Int("entry", e.Line).Str("reason", e.Reason()).Msg("skipping a bad DomainList policy entry")
	}
	if imp.List.Len() == 0 {
		f.Log.Warn().Str("policy", imp.Source).Msg("the DomainList policy has no usable entry: no page may use cardbridge")
	}
	f.Log.Info().Str("policy", imp.Source).Str("version", imp.List.Version()).Int("entries", imp.List.Len()).Msg("DomainList imposed by policy")
	f.cur = imp
	return imp, true
}

// Follow calls Update every Every until ctx ends, and changed with each
// new list (nil when the policy went).
func (f *Follower) Follow(ctx context.Context, changed func(*Imposed)) {
	every := f.Every
	if every <= 0 {
		every = FollowEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if now, ok := f.Update(); ok {
				changed(now)
			}
		}
	}
}
