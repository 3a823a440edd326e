package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/domainlist"
)

// A DomainList seed is what an administrator gives at install (the MSI's
// DOMAINLIST property, `--domainlist-seed`): the origins the port service's
// DomainList starts with on a host that has none yet, in place of the
// built-in list. Entries are separated by semicolons, as in Windows lists
// (PATH, the MSI's own property lists); white space around an entry is
// ignored. A DomainList.txt already in the state directory is never
// replaced by a seed: it may be the administrator's own or the trusted
// URL's, and the trusted URL, when set, replaces the seeded list on its
// first refresh.

// seedSeparator separates the entries of a DomainList seed.
const seedSeparator = ";"

// parseSeed checks a DomainList seed and returns it as a list; "" is no
// seed (nil). Every entry must be a valid DomainList pattern: the first bad
// one is the error, named by its position and text.
func parseSeed(seed string) (*domainlist.List, error) {
	if strings.TrimSpace(seed) == "" {
		return nil, nil
	}
	var lines strings.Builder
	n := 0
	for i, e := range strings.Split(seed, seedSeparator) {
		e = strings.TrimSpace(e)
		if e == "" {
			continue // "a;b;" or "a;;b"
		}
		p, err := domainlist.ParsePattern(e)
		if err != nil {
			return nil, fmt.Errorf("entry %d, %s: %w (entries are separated by %q)", i+1, strconv.Quote(e), err, seedSeparator)
		}
		lines.WriteString(p.String())
		lines.WriteByte('\n')
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%q holds no entry", seed)
	}
	// The version names the seed, so that versioninfo tells a seeded list
	// from the built-in and the trusted URL's.
	sum := sha256.Sum256([]byte(lines.String()))
	list, bad := domainlist.Parse([]byte("# version: seed-" + hex.EncodeToString(sum[:4]) + "\n" + lines.String()))
	if len(bad) > 0 {
		return nil, bad[0]
	}
	return list, nil
}

// seedDomainList writes the DomainList seed (as --domainlist-seed takes it)
// as the DomainList in stateDir when there is no DomainList.txt there yet;
// an existing one, whatever it holds, is left as it is. The file is created
// exclusively, so that it cannot replace one made in between, and removed
// again if it cannot be written whole.
func seedDomainList(stateDir, text string, log zerolog.Logger) error {
	seed, err := parseSeed(text)
	if err != nil {
		return fmt.Errorf("--domainlist-seed: %w", err)
	}
	if seed == nil {
		return nil
	}
	path := filepath.Join(stateDir, "DomainList.txt")
	if _, err := os.Lstat(path); err == nil {
		log.Info().Str("file", path).Msg("a DomainList exists; the DomainList seed is not used")
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("DomainList seed: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
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
