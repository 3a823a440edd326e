//go:build !windows

package fswatch

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// Watch sends on the returned channel after any of paths may have changed:
// it, or for a directory anything in it, was created, written, renamed,
// removed or had its mode changed. Changes close together arrive as one
// send (the channel holds one), and the receiver reads the files again.
// The channel is closed when ctx ends or the notifications fail; the
// caller should then look on a timer instead. Watch fails when the system
// refuses a watch (no inotify instance left for this user, say): the
// caller looks on a timer.
func Watch(ctx context.Context, paths ...string) (<-chan struct{}, error) {
	s := &set{paths: make([]string, len(paths)), ch: make(chan struct{}, 1)}
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		s.paths[i] = abs
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.w == nil {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return nil, err
		}
		shared.w, shared.dirs, shared.sets = w, map[string]int{}, map[*set]bool{}
		go dispatch(w)
	}
	shared.sets[s] = true
	if err := s.arm(); err != nil {
		s.end()
		return nil, err
	}
	go func() {
		<-ctx.Done()
		shared.mu.Lock()
		defer shared.mu.Unlock()
		s.end()
	}()
	return s.ch, nil
}

// shared is the process's one watcher and the sets of paths it serves.
var shared struct {
	mu   sync.Mutex
	w    *fsnotify.Watcher
	dirs map[string]int // each directory watched, and how many sets want it
	sets map[*set]bool
}

// closing counts the watchers being closed (tests wait for them).
var closing sync.WaitGroup

// A set is one Watch: its paths, the directories it has watched for them,
// and its channel. Its fields are guarded by shared.mu.
type set struct {
	paths  []string
	ch     chan struct{}
	dirs   map[string]bool // the directories watched for it now
	inside map[string]bool // of those, the ones that are paths themselves
	ended  bool
}

// arm watches, for each path, the path itself when it is a directory, and
// the directory that holds it (or its nearest existing ancestor), adding
// what has come into existence since the last call. A directory made
// between looking and watching would go unseen, so arm looks again after
// watching until what it watches is what it finds.
func (s *set) arm() error {
	for range 16 {
		want, inside, err := s.wanted()
		if err != nil {
			return err
		}
		if err := s.watch(want, inside); err != nil {
			return err
		}
		again, _, err := s.wanted()
		if err != nil {
			return err
		}
		if maps.Equal(again, want) {
			return nil
		}
	}
	return errors.New("fswatch: the directories of " + strings.Join(s.paths, ", ") + " keep changing")
}

// wanted returns the directories arm should watch now, and of those the
// ones that are paths themselves.
func (s *set) wanted() (want, inside map[string]bool, err error) {
	want, inside = map[string]bool{}, map[string]bool{}
	for _, p := range s.paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			want[p], inside[p] = true, true
		}
		d := filepath.Dir(p)
		for {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				want[d] = true
				break
			}
			up := filepath.Dir(d)
			if up == d {
				return nil, nil, errors.New("fswatch: no directory of " + p + " exists")
			}
			d = up
		}
	}
	return want, inside, nil
}

// watch makes want the directories watched for s.
func (s *set) watch(want, inside map[string]bool) error {
	if s.dirs == nil {
		s.dirs = map[string]bool{}
	}
	var added []string
	for d := range want {
		if s.dirs[d] {
			continue
		}
		if shared.dirs[d] == 0 {
			if err := shared.w.Add(d); err != nil {
				for _, a := range added {
					s.dirs[a] = true // for end to release
				}
				return err
			}
		}
		shared.dirs[d]++
		added = append(added, d)
	}
	old := s.dirs
	s.dirs, s.inside = want, inside
	for d := range old {
		if !want[d] {
			release(d) // gone, or no longer the nearest ancestor
		}
	}
	return nil
}

// release gives up one set's want of d.
func release(d string) {
	if shared.dirs[d]--; shared.dirs[d] <= 0 {
		delete(shared.dirs, d)
		_ = shared.w.Remove(d) // fails when d has gone: nothing to undo
	}
}

// end closes s's channel and gives up its directories; the last set to end
// closes the watcher.
func (s *set) end() {
	if s.ended {
		return
	}
	s.ended = true
	defer close(s.ch) // last: whoever sees it closed sees the watcher closing
	for d := range s.dirs {
		release(d)
	}
	s.dirs = nil
	delete(shared.sets, s)
	if len(shared.sets) == 0 && shared.w != nil {
		// Closed without shared.mu: Close may wait for the watcher's
		// reader, which may be waiting for dispatch, which waits for
		// shared.mu.
		closing.Add(1)
		go func(w *fsnotify.Watcher) { defer closing.Done(); w.Close() }(shared.w)
		shared.w = nil
	}
}

// relevant reports whether a change to name can change one of the paths:
// it is one of them, lies in one that is a directory, or is a directory on
// the way to one.
func (s *set) relevant(name string) bool {
	if s.inside[filepath.Dir(name)] {
		return true
	}
	for _, p := range s.paths {
		if name == p || strings.HasPrefix(p, name+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// dispatch passes w's events to the sets they concern until w is closed.
func dispatch(w *fsnotify.Watcher) {
	for {
		var ev fsnotify.Event
		ok, lost := true, false
		select {
		case ev, ok = <-w.Events:
		case _, ok = <-w.Errors:
			// Events were lost (the queue overflowed): whatever changed
			// must be read again.
			lost = true
		}
		if !ok {
			failed(w)
			return
		}
		shared.mu.Lock()
		if shared.w == w {
			for s := range shared.sets {
				if lost || s.relevant(ev.Name) {
					s.told(ev)
				}
			}
		}
		shared.mu.Unlock()
	}
}

// told tells s of ev. When a directory on the way came or went it watches
// what is there now first; if that fails, s ends and its owner looks on a
// timer.
func (s *set) told(ev fsnotify.Event) {
	if ev.Op.Has(fsnotify.Create) || ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
		if err := s.arm(); err != nil {
			notify(s.ch)
			s.end()
			return
		}
	}
	notify(s.ch)
}

// failed ends every set of w when it closed under them (it also closes
// when the last set ends, and then there are none).
func failed(w *fsnotify.Watcher) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.w != w {
		return
	}
	for s := range shared.sets {
		notify(s.ch)
		s.end()
	}
}

func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
