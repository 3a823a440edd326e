// Package portstore is the port service's memory of which user's agent has
// which port: PortStore.txt, one line per user with the user id (uid:N or a
// Windows SID), a tab, the port, a tab and when the user was last seen (RFC 3339,
// UTC, whole seconds), sorted by port. A port outside the range, which the OS
// chose for a user when every port of the range was unusable, has a fourth
// field, "outside"; a port outside the range without it is dropped.
//
// Open never fails because of what is in the file: it keeps every line it can,
// logs the rest and rewrites a clean file. Every change of a user's port is on
// disk (atomicfile.Write: temporary file, fsync, rename, directory fsync)
// before the call that made it returns, so an acknowledged port survives a
// crash; last-seen times are written lazily.
//
// Writes are group commits: a change is made in memory under the store's lock,
// then the caller waits on a separate write lock, and whoever holds it formats
// the whole store under the store's lock and writes and fsyncs it without that
// lock. A caller whose change was already covered by another caller's write
// returns without writing, so concurrent allocations share one fsync and
// Lookup never waits for the disk.
package portstore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/portservice"
)

// fileMode is PortStore.txt's mode, and dirMode its directory's when Open
// creates it.
const (
	fileMode = 0o644
	dirMode  = 0o755
)

// maxLogged bounds the per-line warnings Open logs for one file; the rest are
// counted in one more warning.
const maxLogged = 100

// ErrFull is returned when no port of the range is free and usable.
var ErrFull = errors.New("no free port in the range")

// ErrBadUser is returned for a user id that is neither uid:N nor a Windows SID.
var ErrBadUser = errors.New("not a user id (want uid:N or a Windows SID S-1-...)")

// Entry is one user's port and when the user was last seen.
type Entry struct {
	User     string
	Port     int
	LastSeen time.Time
}

// Options configures Open.
type Options struct {
	Path   string            // PortStore.txt
	Range  portservice.Range // the per-user port range; zero means portservice.DefaultRange
	Logger zerolog.Logger    // receives a warning for every line dropped or fixed and every rewrite
	Now    func() time.Time  // the clock; nil means time.Now
}

// record is a user's entry in memory.
type record struct {
	port     int
	lastSeen time.Time
	gen      uint64 // the generation that gave the user port; on disk once durable >= gen
}

// Store is the user-to-port table backed by PortStore.txt. It is safe for
// concurrent use.
type Store struct {
	path string
	log  zerolog.Logger
	now  func() time.Time

	wmu sync.Mutex // held while writing the file; taken before mu, never after

	mu      sync.Mutex
	users   map[string]*record
	ports   portSet
	outside map[int]string // ports outside the range, and their users
	// checking counts the calls asking unusable about each port, unlocked
	// (checkUnlocked); allocations pass those ports over meanwhile, and
	// wait on checked for their answers before they call the range full.
	checking map[int]int
	checked  *sync.Cond // on mu
	size     int        // the length of the file format writes
	gen      uint64     // incremented by every change
	durable  uint64     // the generation last written to the file
}

// Open loads the store from opt.Path, creating the file and its directory if
// missing. Whatever the file holds, it fails only when the directory cannot be
// created or written (or opt is invalid).
func Open(opt Options) (*Store, error) {
	if opt.Path == "" {
		return nil, errors.New("open port store: no path")
	}
	rng, err := opt.Range.OrDefault()
	if err != nil {
		return nil, fmt.Errorf("open port store %s: %w", opt.Path, err)
	}
	s := &Store{
		path:     opt.Path,
		log:      opt.Logger,
		now:      opt.Now,
		users:    make(map[string]*record),
		ports:    newPortSet(rng.Lo, rng.Hi),
		outside:  make(map[int]string),
		checking: make(map[int]int),
	}
	s.checked = sync.NewCond(&s.mu)
	if s.now == nil {
		s.now = time.Now
	}
	dir, base := filepath.Dir(s.path), filepath.Base(s.path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("open port store: %w", err)
	}
	atomicfile.Cleanup(dir, base)

	data, readErr := atomicfile.ReadRegular(s.path, maxFileSize)
	missing := errors.Is(readErr, fs.ErrNotExist)
	cut := errors.Is(readErr, atomicfile.ErrTooLarge)
	// Anything but a regular file within the limit is moved aside, so that it
	// is kept for an admin to look at and a clean file takes its place; of an
	// oversized file the lines of the first 1 MiB are kept.
	bad := errors.Is(readErr, atomicfile.ErrNotRegular) || cut
	if bad {
		s.moveAside(readErr)
		if !cut {
			data, readErr = nil, nil
		}
	}
	// After a read error the last line read may be incomplete, as after the cut.
	entries, probs := parse(data, cut || (readErr != nil && !missing), rng, s.nowUTC())
	for _, e := range entries {
		s.users[e.User] = &record{port: e.Port, lastSeen: e.LastSeen}
		s.holdLocked(e.Port, e.User)
	}
	// A store holds at most what fits in maxFileSize, so that it reads back
	// all it wrote; that only matters when Hi-Lo is in the tens of thousands.
	for s.size > maxFileSize {
		last := entries[len(entries)-1]
		entries = entries[:len(entries)-1]
		s.removeLocked(last.User)
		probs = append(probs, problem{kind: dropped, reason: "the file would exceed 1 MiB"})
	}

	switch {
	case missing:
		s.log.Info().Str("file", s.path).Msg("port store: no file yet; creating an empty one")
	case cut:
		s.log.Warn().Str("file", s.path).Msg("port store: file larger than 1 MiB; read only the first 1 MiB")
	case readErr != nil:
		s.log.Warn().Err(readErr).Str("file", s.path).Int("bytesRead", len(data)).
			Msg("port store: cannot read the whole file; keeping what was read")
	}
	s.logProblems(probs)

	clean := s.format()
	if missing || bad || readErr != nil || !bytes.Equal(clean, data) {
		if !missing {
			n := [3]int{}
			for _, p := range probs {
				n[p.kind]++
			}
			s.log.Warn().Str("file", s.path).Int("kept", len(entries)).Int("dropped", n[dropped]).
				Int("fixed", n[fixed]).Int("reformatted", n[reformed]).Msg("port store: rewriting a clean file")
		}
		if err := s.write(clean); err != nil {
			return nil, fmt.Errorf("open port store: %w", err)
		}
	} else if err := probeWrite(dir, base); err != nil {
		return nil, fmt.Errorf("open port store %s: %w", s.path, err)
	}
	return s, nil
}

// moveAside moves what is at the store's path out of the way, after readErr
// said it is not a regular file or is too large, and logs what was found and
// what became of it. The clean file written next takes its place.
func (s *Store) moveAside(readErr error) {
	aside, err := atomicfile.MoveAside(s.path)
	if err != nil {
		s.log.Error().Str("file", s.path).Str("found", readErr.Error()).Err(err).
			Msg("port store: cannot move the bad file aside; replacing it with a clean file if the OS allows")
		return
	}
	s.log.Warn().Str("file", s.path).Str("found", readErr.Error()).Str("movedTo", aside).
		Msg("port store: moved the bad file aside; writing a clean file in its place")
}

// write replaces the file with data. Should something other than a regular
// file (a directory, say) stand in the way, it is moved aside, logged, and the
// write tried again.
func (s *Store) write(data []byte) error {
	err := atomicfile.Write(s.path, data, fileMode)
	if err == nil {
		return nil
	}
	fi, lerr := os.Lstat(s.path)
	if lerr != nil || fi.Mode().IsRegular() {
		return err
	}
	s.moveAside(fmt.Errorf("write %s: %w (%s)", s.path, atomicfile.ErrNotRegular, atomicfile.Kind(fi.Mode())))
	return atomicfile.Write(s.path, data, fileMode)
}

// probeWrite checks that a file can be created in dir, as Write will need to,
// with a name that atomicfile.Cleanup removes should the process die here.
func probeWrite(dir, base string) error {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// logProblems logs what Open found wrong in the file: one warning per dropped
// or fixed line (up to maxLogged), one per kind of layout fix.
func (s *Store) logProblems(probs []problem) {
	type layout struct {
		reason      string
		first, seen int
	}
	var layouts []*layout
	more := 0
	logged := 0
	for _, p := range probs {
		if p.kind == reformed {
			i := slices.IndexFunc(layouts, func(l *layout) bool { return l.reason == p.reason })
			if i < 0 {
				layouts = append(layouts, &layout{reason: p.reason, first: p.line})
				i = len(layouts) - 1
			}
			layouts[i].seen++
			continue
		}
		if logged == maxLogged {
			more++
			continue
		}
		logged++
		msg := "port store: dropped a line"
		if p.kind == fixed {
			msg = "port store: fixed a line"
		}
		ev := s.log.Warn().Str("file", s.path)
		if p.line > 0 {
			ev = ev.Int("line", p.line)
		}
		ev.Str("reason", p.reason).Msg(msg)
	}
	if more > 0 {
		s.log.Warn().Str("file", s.path).Int("more", more).Msg("port store: more bad lines, not logged one by one")
	}
	for _, l := range layouts {
		s.log.Warn().Str("file", s.path).Int("line", l.first).Int("lines", l.seen).Str("reason", l.reason).
			Msg("port store: reformatting lines")
	}
}

// nowUTC is the store's clock in UTC, to the second (the file's precision).
func (s *Store) nowUTC() time.Time {
	return s.now().UTC().Truncate(time.Second)
}

// format returns the file's contents for the store's state.
func (s *Store) format() []byte {
	b := make([]byte, 0, s.size)
	for _, e := range s.entriesLocked() {
		b = appendEntry(b, e, !s.ports.inRange(e.Port))
	}
	return b
}

// entriesLocked returns every entry, sorted by port.
func (s *Store) entriesLocked() []Entry {
	out := make([]Entry, 0, len(s.users))
	for i, u := range s.ports.owner {
		if u != "" {
			out = append(out, Entry{User: u, Port: s.ports.lo + i, LastSeen: s.users[u].lastSeen})
		}
	}
	if len(s.outside) > 0 {
		for p, u := range s.outside {
			out = append(out, Entry{User: u, Port: p, LastSeen: s.users[u].lastSeen})
		}
		slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Port, b.Port) })
	}
	return out
}

// lineLenOf is the length of the line of user holding port.
func (s *Store) lineLenOf(user string, port int) int {
	if s.ports.inRange(port) {
		return lineLen(user, port)
	}
	return lineLen(user, port) + outsideLen
}

// holdLocked gives the free port, inside the range or outside it, to user.
func (s *Store) holdLocked(port int, user string) {
	if s.ports.inRange(port) {
		s.ports.take(port, user)
	} else {
		s.outside[port] = user
	}
	s.size += s.lineLenOf(user, port)
}

// releaseLocked frees user's port.
func (s *Store) releaseLocked(port int, user string) {
	if s.ports.inRange(port) {
		s.ports.release(port)
	} else {
		delete(s.outside, port)
	}
	s.size -= s.lineLenOf(user, port)
}

// persist returns once the file holds generation gen or a later one, writing
// the store if nobody else has.
func (s *Store) persist(gen uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.durable >= gen {
		s.mu.Unlock()
		return nil
	}
	data, g := s.format(), s.gen
	s.mu.Unlock()
	if err := s.write(data); err != nil {
		return err
	}
	s.mu.Lock()
	s.durable = g
	s.mu.Unlock()
	return nil
}

// Lookup returns user's entry.
func (s *Store) Lookup(user string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.users[user]
	if r == nil {
		return Entry{}, false
	}
	return Entry{User: user, Port: r.port, LastSeen: r.lastSeen}, true
}

// Allocate returns user's port: the one it has unless unusable (nil: none)
// says it is unusable, else the lowest free port for which unusable is false,
// and sets its last seen to now. A new port is on disk before Allocate returns;
// if writing fails the port stays reserved for user in memory, goes to disk with
// the next write, and must not be handed out until an Allocate succeeds.
// unusable is called without the store locked, so that it may take its time
// (asking the OS who holds a port) while other calls go on; it must not call
// the Store. A port being asked about is passed over by other allocations
// meanwhile.
func (s *Store) Allocate(user string, unusable func(port int) bool) (Entry, error) {
	if !validUser(user) {
		return Entry{}, fmt.Errorf("allocate port for %s: %w", quoteStart([]byte(user)), ErrBadUser)
	}
	s.mu.Lock()
	var (
		e    Entry
		need uint64
		err  error
		kept bool
	)
	for r := s.users[user]; r != nil; r = s.users[user] {
		port := r.port
		ok := unusable == nil || !s.checkUnlocked(port, unusable)
		if s.users[user] != r || r.port != port {
			continue // changed while unlocked: look again
		}
		if ok {
			now := s.nowUTC()
			if !r.lastSeen.Equal(now) {
				r.lastSeen = now
				s.gen++
			}
			// The port may still be on its way to disk in another call.
			e, need, kept = Entry{User: user, Port: port, LastSeen: now}, r.gen, true
		}
		break
	}
	if !kept {
		e, need, err = s.assignLocked(user, unusable)
	}
	s.mu.Unlock()
	if err != nil {
		return Entry{}, fmt.Errorf("allocate port for %s: %w", user, err)
	}
	if err := s.persist(need); err != nil {
		return Entry{}, fmt.Errorf("allocate port for %s: %w", user, err)
	}
	return e, nil
}

// checkUnlocked asks unusable about port with the store unlocked, port
// held back from other allocations meanwhile. It is called, and returns,
// with the store locked; anything else may have changed in between.
func (s *Store) checkUnlocked(port int, unusable func(port int) bool) bool {
	s.checking[port]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.checking[port]--; s.checking[port] == 0 {
			delete(s.checking, port)
		}
		s.checked.Broadcast()
	}()
	return unusable(port)
}

// Reallocate gives user a port other than the one it has (someone else has
// taken that one): the lowest free port for which unusable (nil: none) is
// false. The new port is on disk before Reallocate returns. unusable is
// called as Allocate calls it.
func (s *Store) Reallocate(user string, unusable func(port int) bool) (Entry, error) {
	if !validUser(user) {
		return Entry{}, fmt.Errorf("reallocate port for %s: %w", quoteStart([]byte(user)), ErrBadUser)
	}
	s.mu.Lock()
	e, need, err := s.assignLocked(user, unusable)
	s.mu.Unlock()
	if err != nil {
		return Entry{}, fmt.Errorf("reallocate port for %s: %w", user, err)
	}
	if err := s.persist(need); err != nil {
		return Entry{}, fmt.Errorf("reallocate port for %s: %w", user, err)
	}
	return e, nil
}

// ErrInRange is returned by AllocateOutside for a port inside the range.
var ErrInRange = errors.New("the port lies inside the range")

// ErrTaken is returned by AllocateOutside for a port another user holds.
var ErrTaken = errors.New("another user holds the port")

// AllocateOutside gives user port, which lies outside the range (the OS chose
// it when every port of the range was unusable), releasing the port it had, and
// sets its last seen to now. The port is kept in the file, marked outside, so
// the user keeps it across restarts like any other; it goes back to the range
// only when the port stops being usable. The new port is on disk before
// AllocateOutside returns.
func (s *Store) AllocateOutside(user string, port int) (Entry, error) {
	if !validUser(user) {
		return Entry{}, fmt.Errorf("allocate port %d outside the range for %s: %w", port, quoteStart([]byte(user)), ErrBadUser)
	}
	if port < portservice.MinPort || port > 65535 {
		return Entry{}, fmt.Errorf("allocate port %d outside the range for %s: want %d-65535", port, user, portservice.MinPort)
	}
	if s.ports.inRange(port) {
		return Entry{}, fmt.Errorf("allocate port %d outside the range for %s: %w", port, user, ErrInRange)
	}
	s.mu.Lock()
	now := s.nowUTC()
	if other, ok := s.outside[port]; ok && other != user {
		s.mu.Unlock()
		return Entry{}, fmt.Errorf("allocate port %d outside the range for %s: %w", port, user, ErrTaken)
	}
	r := s.users[user]
	if r == nil && s.size+lineLen(user, port)+outsideLen > maxFileSize {
		s.mu.Unlock()
		return Entry{}, fmt.Errorf("allocate port %d outside the range for %s: %w: the port store file would exceed 1 MiB", port, user, ErrFull)
	}
	if r == nil {
		r = &record{}
		s.users[user] = r
	} else if r.port != port {
		s.releaseLocked(r.port, user)
	}
	if r.port != port {
		s.holdLocked(port, user)
	}
	s.gen++
	r.port, r.lastSeen, r.gen = port, now, s.gen
	need := r.gen
	s.mu.Unlock()
	if err := s.persist(need); err != nil {
		return Entry{}, fmt.Errorf("allocate port %d outside the range for %s: %w", port, user, err)
	}
	return Entry{User: user, Port: port, LastSeen: now}, nil
}

// assignLocked gives user the lowest free port for which unusable is false,
// releasing the one it had, and returns the entry and the generation that
// must be on disk before the caller may return it.
func (s *Store) assignLocked(user string, unusable func(port int) bool) (Entry, uint64, error) {
	var tried map[int]bool // ports unusable said no to
	for {
		if s.users[user] == nil && s.size+lineLen(user, 65535)+outsideLen > maxFileSize {
			return Entry{}, 0, fmt.Errorf("%w: the port store file would exceed 1 MiB", ErrFull)
		}
		port, ok := s.ports.lowestFree(func(p int) bool { return s.checking[p] > 0 || tried[p] })
		if !ok {
			if s.awaitChecks(tried) {
				continue
			}
			return Entry{}, 0, ErrFull
		}
		if unusable != nil && s.checkUnlocked(port, unusable) {
			if tried == nil {
				tried = map[int]bool{}
			}
			tried[port] = true
			continue
		}
		if _, held := s.ports.userOf(port); held {
			continue // taken while unlocked (no allocation takes a port being checked; a load might)
		}
		r := s.users[user]
		if r == nil {
			r = &record{}
			s.users[user] = r
		} else {
			s.releaseLocked(r.port, user)
		}
		s.holdLocked(port, user)
		s.gen++
		now := s.nowUTC()
		r.port, r.lastSeen, r.gen = port, now, s.gen
		return Entry{User: user, Port: port, LastSeen: now}, r.gen, nil
	}
}

// awaitChecks waits, when other calls are asking about ports this one has
// not tried, until one of them has its answer, and reports whether it
// waited: the port may be free for this call after all.
func (s *Store) awaitChecks(tried map[int]bool) bool {
	for p := range s.checking {
		if !tried[p] {
			s.checked.Wait()
			return true
		}
	}
	return false
}

// removeLocked forgets user.
func (s *Store) removeLocked(user string) {
	r := s.users[user]
	delete(s.users, user)
	s.releaseLocked(r.port, user)
}

// Touch sets user's last seen to now, if it has a port. The change reaches the
// file with the next Flush or port change.
func (s *Store) Touch(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.users[user]; r != nil {
		if now := s.nowUTC(); !r.lastSeen.Equal(now) {
			r.lastSeen = now
			s.gen++
		}
	}
}

// Flush writes the file if anything changed since it was last written; the
// port service calls it every few minutes and when it stops.
func (s *Store) Flush() error {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	if err := s.persist(gen); err != nil {
		return fmt.Errorf("flush port store: %w", err)
	}
	return nil
}

// Expire frees the ports of users last seen more than olderThan ago, writes
// the file and returns the freed entries, sorted by port. A failed write is
// logged and retried with the next write.
func (s *Store) Expire(olderThan time.Duration) []Entry {
	s.mu.Lock()
	cutoff := s.nowUTC().Add(-olderThan)
	var freed []Entry
	for u, r := range s.users {
		if r.lastSeen.Before(cutoff) {
			freed = append(freed, Entry{User: u, Port: r.port, LastSeen: r.lastSeen})
		}
	}
	for _, e := range freed {
		s.removeLocked(e.User)
	}
	if len(freed) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	slices.SortFunc(freed, func(a, b Entry) int { return cmp.Compare(a.Port, b.Port) })
	if err := s.persist(gen); err != nil {
		s.log.Error().Err(err).Int("freed", len(freed)).Msg("port store: cannot write the file after expiring users")
	}
	return freed
}

// Entries returns every entry, sorted by port.
func (s *Store) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entriesLocked()
}

// Len returns the number of users with a port.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}
