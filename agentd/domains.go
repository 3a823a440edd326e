package agentd

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/policy"
)

// maxDomainsFile bounds a --domains file: a larger one is refused.
const maxDomainsFile = 1 << 20

// domainSource holds the DomainList in force: one the administrator's
// policy imposes, else a --domains file (reloaded when it changes), else the
// port service's, else the built-in one.
type domainSource struct {
	path     string
	every    time.Duration // how often watch looks at the file
	log      zerolog.Logger
	cur      atomic.Pointer[localhttp.DomainInfo] // the file's, the service's or the built-in list
	imposed  atomic.Pointer[localhttp.DomainInfo] // the policy's, nil when none
	onChange atomic.Pointer[func()]               // told after a new list is in force
	mod      time.Time                            // the file's time and size when last loaded or tried
	size     int64

	// policies follows the DomainList the policies impose; nil for none.
	policies *policy.Follower
}

func newDomainSource(path string, log zerolog.Logger) (*domainSource, error) {
	d := &domainSource{path: path, every: 2 * time.Second, log: log}
	if path == "" {
		d.cur.Store(&localhttp.DomainInfo{List: domainlist.Builtin(), Source: "builtin"})
		return d, nil
	}
	if st, err := os.Lstat(path); err == nil {
		d.mod, d.size = st.ModTime(), st.Size()
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *domainSource) get() localhttp.DomainInfo {
	if p := d.imposed.Load(); p != nil {
		return *p
	}
	return *d.cur.Load()
}

// set puts info in force, unless a policy imposes another, and tells
// onChange.
func (d *domainSource) set(info *localhttp.DomainInfo) {
	d.cur.Store(info)
	if d.imposed.Load() == nil {
		d.changed()
	}
}

func (d *domainSource) changed() {
	if f := d.onChange.Load(); f != nil {
		(*f)()
	}
}

// applyPolicy reads the policies once and puts the DomainList they impose
// in force, or, when they no longer impose one, the list underneath.
func (d *domainSource) applyPolicy() {
	if d.policies == nil {
		return
	}
	if imp, changed := d.policies.Update(); changed {
		d.impose(imp)
	}
}

// impose puts imp in force over the list underneath (nil: none) and tells
// onChange.
func (d *domainSource) impose(imp *policy.Imposed) {
	if imp == nil {
		d.imposed.Store(nil)
	} else {
		d.imposed.Store(&localhttp.DomainInfo{List: imp.List, Source: imp.Source})
	}
	d.changed()
}

// watchPolicy follows the policies' DomainList until ctx ends.
func (d *domainSource) watchPolicy(ctx context.Context) {
	if d.policies != nil {
		d.policies.Follow(ctx, d.impose)
	}
}

// fromService puts the port service's DomainList in force, unless a
// --domains file overrides it.
func (d *domainSource) fromService(text string) {
	if d.path != "" {
		return
	}
	list, bad := domainlist.Parse([]byte(text))
	for _, e := range bad {
		d.log.Warn().Int("line", e.Line).Str("reason", e.Reason()).Msg("skipping a bad line of the port service's DomainList")
	}
	d.set(&localhttp.DomainInfo{List: list, Source: "portservice"})
	d.log.Info().Str("version", list.Version()).Int("entries", list.Len()).Msg("DomainList from the port service")
}

// load reads the file, which must be a regular file of at most 1 MiB (it is
// never followed if a symbolic link, nor waited on if a named pipe); bad lines
// are logged by number and reason and skipped.
func (d *domainSource) load() error {
	data, err := atomicfile.ReadRegular(d.path, maxDomainsFile)
	if err != nil {
		return fmt.Errorf("load --domains: %w", err)
	}
	list, bad := domainlist.Parse(data)
	for _, e := range bad {
		d.log.Warn().Str("file", d.path).Int("line", e.Line).Str("reason", e.Reason()).Msg("skipping a bad DomainList line")
	}
	d.set(&localhttp.DomainInfo{List: list, Source: "file:" + d.path})
	d.log.Info().Str("file", d.path).Str("version", list.Version()).Int("entries", list.Len()).Msg("DomainList loaded")
	return nil
}

// settle is how long a changed --domains file must stay the same before
// it is loaded, so that a file still being written (an editor or a copy
// that does not replace it whole) is never read half-written.
const settle = 250 * time.Millisecond

// watch reloads the file when its size or time changes (looking every 2 s)
// and then stays the same for settle, until ctx ends. A file that
// disappears, cannot be read, is not a regular file or is too large keeps
// the list in force, logged once per change; no read ever blocks, so watch
// returns as soon as ctx ends.
func (d *domainSource) watch(ctx context.Context) {
	if d.path == "" {
		return
	}
	t := time.NewTicker(d.every)
	defer t.Stop()
	var settled <-chan time.Time // set while a change settles
	var seenMod time.Time        // the change seen, not loaded yet
	seenSize := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-settled:
		}
		st, err := os.Lstat(d.path)
		if err != nil || (st.ModTime().Equal(d.mod) && st.Size() == d.size) {
			seenSize, settled = -1, nil
			continue
		}
		if !st.ModTime().Equal(seenMod) || st.Size() != seenSize {
			seenMod, seenSize = st.ModTime(), st.Size()
			settled = time.After(settle) // look again before loading
			continue
		}
		settled = nil
		seenSize = -1
		d.mod, d.size = st.ModTime(), st.Size()
		if err := d.load(); err != nil {
			d.log.Warn().Err(err).Str("file", d.path).Msg("keeping the DomainList in force")
		}
	}
}
