// Package fswatch tells a long-running program that a file it depends on
// may have changed, through the operating system's file notifications
// (inotify, kqueue, ReadDirectoryChangesW) rather than by looking on a
// timer: an idle agent on a terminal server shared by hundreds of users
// must not wake up to find nothing changed.
//
// It watches the directories holding the files, so that a file replaced
// by rename (as package managers and editors do), removed or created is
// seen as well as one written in place, and a path whose directory does not
// exist yet is watched through its nearest existing ancestor.
package fswatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

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
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	s := &set{w: w, paths: make([]string, len(paths))}
	for i, p := range paths {
		if s.paths[i], err = filepath.Abs(p); err != nil {
			w.Close()
			return nil, err
		}
	}
	if err := s.arm(); err != nil {
		w.Close()
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go s.run(ctx, ch)
	return ch, nil
}

type set struct {
	w      *fsnotify.Watcher
	paths  []string
	dirs   map[string]bool // the directories watched now
	inside map[string]bool // of those, the ones that are paths themselves
}

// arm watches, for each path, the path itself when it is a directory, and
// the directory that holds it (or its nearest existing ancestor), adding
// what has come into existence since the last call.
func (s *set) arm() error {
	want := map[string]bool{}
	inside := map[string]bool{}
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
				return errors.New("fswatch: no directory of " + p + " exists")
			}
			d = up
		}
	}
	for d := range s.dirs {
		if !want[d] {
			_ = s.w.Remove(d) // gone, or no longer the nearest ancestor
		}
	}
	for d := range want {
		if !s.dirs[d] {
			if err := s.w.Add(d); err != nil {
				return err
			}
		}
	}
	s.dirs, s.inside = want, inside
	return nil
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

func (s *set) run(ctx context.Context, ch chan<- struct{}) {
	defer close(ch)
	defer s.w.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-s.w.Events:
			if !ok {
				return
			}
			if !s.relevant(ev.Name) {
				continue
			}
			if ev.Op.Has(fsnotify.Create) || ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
				// A directory on the way came or went: watch what is
				// there now. If that fails, the caller falls back to
				// looking on a timer.
				if err := s.arm(); err != nil {
					notify(ch)
					return
				}
			}
			notify(ch)
		case _, ok := <-s.w.Errors:
			// Events were lost (the queue overflowed) or the watch
			// broke: whatever changed must be read again.
			notify(ch)
			if !ok {
				return
			}
		}
	}
}

func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
