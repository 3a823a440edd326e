package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/domainlist"
	"github.com/cardbridge/cardbridge/localhttp"
	"github.com/cardbridge/cardbridge/policy"
	"github.com/cardbridge/cardbridge/portservice"
)

// maxDomainFile bounds how much of DomainList.txt is read.
const maxDomainFile = 1 << 20

// loadDomains reads the DomainList file at path. Whatever is wrong with
// the file — missing, empty, unreadable bytes, bad lines, not a regular file,
// too large — it returns a usable list: the good lines, or the built-in list
// when none are good. When the file on disk was not clean, it is rewritten
// clean (atomically); something other than a regular file, or a file larger
// than 1 MiB, is first moved aside to DomainList.txt.bad-TIME. Nothing the file
// holds is logged: bad lines by number and reason only.
func loadDomains(path string, log zerolog.Logger) *domainlist.List {
	builtin := domainlist.Builtin()
	data, err := atomicfile.ReadRegular(path, maxDomainFile)
	moved := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info().Str("file", path).Msg("no DomainList yet; writing the built-in one")
		writeDomains(path, builtin, log)
		return builtin
	case errors.Is(err, atomicfile.ErrNotRegular):
		moveDomainsAside(path, err, log)
		log.Warn().Str("file", path).Msg("using the built-in DomainList in place of one that is not a regular file")
		writeDomains(path, builtin, log)
		return builtin
	case errors.Is(err, atomicfile.ErrTooLarge):
		// Keep the whole lines of the first 1 MiB: a cut-off host is a
		// different host.
		data = data[:bytes.LastIndexByte(data, '\n')+1]
		moved = moveDomainsAside(path, err, log)
		log.Warn().Str("file", path).Msg("the DomainList is larger than 1 MiB; keeping the lines of its first 1 MiB")
	case err != nil:
		// Unreadable (permissions, I/O): serve the built-in list, and leave
		// the file for an admin to look at.
		log.Error().Err(err).Str("file", path).Msg("cannot read the DomainList; using the built-in one")
		return builtin
	}
	list, bad := domainlist.Parse(data)
	for _, e := range bad {
		log.Warn().Str("file", path).Int("line", e.Line).Str("reason", e.Reason()).Msg("dropping a bad DomainList line")
	}
	if list.Len() == 0 {
		log.Warn().Str("file", path).Msg("the DomainList has no usable entry; using the built-in one")
		list = builtin
	}
	if moved || !bytes.Equal(data, list.Format()) {
		writeDomains(path, list, log)
	}
	return list
}

// moveDomainsAside moves the DomainList at path, which found says is not a
// regular file or is too large, out of the way and logs what was found and
// where it went. It reports whether the file was moved.
func moveDomainsAside(path string, found error, log zerolog.Logger) bool {
	aside, err := atomicfile.MoveAside(path)
	if err != nil {
		log.Error().Str("file", path).Str("found", found.Error()).Err(err).
			Msg("cannot move the bad DomainList aside; replacing it with a clean file if the OS allows")
		return false
	}
	log.Warn().Str("file", path).Str("found", found.Error()).Str("movedTo", aside).
		Msg("moved the bad DomainList aside; writing a clean one in its place")
	return true
}

// writeDomains replaces the file with list's clean form. Should something
// other than a regular file (a directory, say) stand in the way, it is moved
// aside and the write tried again.
func writeDomains(path string, list *domainlist.List, log zerolog.Logger) {
	err := atomicfile.Write(path, list.Format(), 0o644)
	if fi, lerr := os.Lstat(path); err != nil && lerr == nil && !fi.Mode().IsRegular() {
		found := fmt.Errorf("write %s: %w (%s)", path, atomicfile.ErrNotRegular, atomicfile.Kind(fi.Mode()))
		if moveDomainsAside(path, found, log) {
			err = atomicfile.Write(path, list.Format(), 0o644)
		}
	}
	if err != nil {
		log.Error().Err(err).Str("file", path).Msg("cannot write the DomainList")
		return
	}
	log.Info().Str("file", path).Str("version", list.Version()).Int("entries", list.Len()).Msg("DomainList written")
}

func (s *Service) domainsPath() string { return filepath.Join(s.opt.StateDir, "DomainList.txt") }

// setDomains saves a new DomainList (from the trusted URL) and, unless a
// policy imposes another, puts it in force and sends it to every agent.
func (s *Service) setDomains(list *domainlist.List, raw []byte) {
	s.domains.Store(list)
	s.updated.Store(time.Now().UnixNano())
	writeDomains(s.domainsPath(), list, s.log)
	if s.imposed.Load() == nil {
		s.sendDomains(list)
	}
}

// inForce is the DomainList in force, with where it came from: the one a
// policy imposes, else DomainList.txt.
func (s *Service) inForce() localhttp.DomainInfo {
	if p := s.imposed.Load(); p != nil {
		return *p
	}
	return localhttp.DomainInfo{List: s.domains.Load(), Source: "file:" + s.domainsPath()}
}

// sendDomains sends the list in force to every agent.
func (s *Service) sendDomains(list *domainlist.List) {
	msg := portservice.Message{Type: portservice.MsgDomainList, DomainList: string(list.Format()), DomainListVersion: list.Version()}
	for _, r := range s.liveRegs() {
		if err := r.send(msg); err != nil {
			s.log.Warn().Err(err).Str("user", r.user.ID).Msg("cannot send the DomainList to an agent")
		}
	}
}

// applyPolicy reads the policies once and puts the DomainList they impose
// in force.
func (s *Service) applyPolicy() {
	if imp, changed := s.policy.Update(); changed {
		s.impose(imp)
	}
}

// impose puts imp in force and sends it to every agent, or, when nil (the
// policy went), DomainList.txt's list. DomainList.txt is left as it is:
// it is what the service goes back to.
func (s *Service) impose(imp *policy.Imposed) {
	s.updated.Store(time.Now().UnixNano())
	if imp == nil {
		s.imposed.Store(nil)
		s.log.Info().Str("file", s.domainsPath()).Msg("back to the DomainList file")
		s.sendDomains(s.domains.Load())
		return
	}
	s.imposed.Store(&localhttp.DomainInfo{List: imp.List, Source: imp.Source})
	s.sendDomains(imp.List)
}

// watchPolicy follows the policies' DomainList until ctx ends.
func (s *Service) watchPolicy(ctx context.Context) { s.policy.Follow(ctx, s.impose) }

// seedDomains writes seed as the DomainList at path when there is none yet;
// an existing one, whatever it holds, is left as it is: it may be the
// administrator's own or the trusted URL's (which, when set, replaces the
// seeded list on its first refresh). The file is created exclusively, so
// that it cannot replace one made in between, and removed again if it
// cannot be written whole.
func seedDomains(path string, seed *domainlist.List, log zerolog.Logger) error {
	if seed == nil {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		log.Info().Str("file", path).Msg("a DomainList exists; the DomainList seed is not used")
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("DomainList seed: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		log.Info().Str("file", path).Msg("a DomainList exists; the DomainList seed is not used")
		return nil
	}
	if err != nil {
		return fmt.Errorf("DomainList seed: %w", err)
	}
	_, err = f.Write(seed.Format())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("DomainList seed: write %s: %w", path, err)
	}
	log.Info().Str("file", path).Str("version", seed.Version()).Int("entries", seed.Len()).Msg("DomainList seeded from install")
	return nil
}
