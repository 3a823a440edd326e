package policy

import (
	"bytes"
	"cmp"
	"context"
	"time"

	"github.com/rs/zerolog"
)

// FollowEvery is how often a running program reads the policies again
// where it cannot be told of a change: a change is in force within it.
const FollowEvery = 10 * time.Second

// followSettle is how long Follow waits after being told of a change for
// the rest of it (an editor writes, renames and sets the mode one after
// another) before reading the policies.
const followSettle = 100 * time.Millisecond

// Follower follows the DomainList the policies impose while a program
// runs: the port service, which sends it to every agent, and the agent,
// which puts it above its own list. It logs each change once, and a
// DomainListFile that cannot be read once per problem, keeping the list
// in force.
//
// It reads the policies again when the system tells it they changed (the
// policy files' directories on Linux and macOS, the policy registry keys on
// Windows), so that an idle program has no timer to wake it. It looks every
// Every instead where it cannot be told, and, as long as the list comes
// from the file DomainListFile names (which may be on a file share, whose
// changes no notification reports), as well.
type Follower struct {
	// Load reads the policies (Load when nil).
	Load func() *Set
	// Watch tells of changes to what Load reads (the platform's policy
	// sources when nil); Poll when nothing can tell.
	Watch func(context.Context) (<-chan struct{}, error)
	Log   zerolog.Logger
	// Every is how often Follow reads them where it must look (FollowEvery
	// when zero).
	Every time.Duration

	cur     *Imposed // the list imposed now; nil when none
	byFile  bool     // the policies name a DomainListFile
	lastErr string   // the problem last logged
}

// Poll is a Follower's Watch that can never tell of a change, so that
// Follow reads the policies every Every: for a Load that reads something
// other than the platform's policies.
func Poll(context.Context) (<-chan struct{}, error) { return nil, nil }

// Update reads the policies once. It returns the list they impose (nil
// when none) and whether that differs from what Update returned before.
// It is not safe for concurrent use: one goroutine updates.
func (f *Follower) Update() (now *Imposed, changed bool) {
	load := f.Load
	if load == nil {
		load = Load
	}
	set := load()
	_, list := set.Get("DomainList")
	_, file := set.Get("DomainListFile")
	f.byFile = file && !list
	imp, err := set.DomainList()
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

// Follow calls Update whenever the policies may have changed, until ctx
// ends, and changed with each new list (nil when the policy went).
func (f *Follower) Follow(ctx context.Context, changed func(*Imposed)) {
	every := cmp.Or(f.Every, FollowEvery)
	watch := f.Watch
	if watch == nil {
		watch = platformWatch
	}
	told, err := watch(ctx)
	switch {
	case err != nil:
		f.Log.Warn().Err(err).Dur("every", every).Msg("cannot be told when the policies change; reading them on a timer")
	case told == nil:
		f.Log.Debug().Dur("every", every).Msg("reading the policies on a timer")
	}
	var tick *time.Ticker
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	for {
		// Look on a timer only while nothing can tell of every change.
		switch look := told == nil || f.byFile; {
		case look && tick == nil:
			tick = time.NewTicker(every)
		case !look && tick != nil:
			tick.Stop()
			tick = nil
		}
		var tickC <-chan time.Time
		if tick != nil {
			tickC = tick.C
		}
		select {
		case <-ctx.Done():
			return
		case <-tickC:
		case _, ok := <-told:
			if !ok {
				if ctx.Err() != nil {
					return
				}
				f.Log.Warn().Dur("every", every).Msg("no longer told when the policies change; reading them on a timer")
				told = nil
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(followSettle):
			}
			select { // what came meanwhile is read now
			case <-told:
			default:
			}
		}
		if now, ok := f.Update(); ok {
			changed(now)
		}
	}
}
