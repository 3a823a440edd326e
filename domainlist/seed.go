package domainlist

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// A seed is the DomainList an administrator gives at install (the MSI's
// DOMAINLIST property, the port service's --domainlist-seed): the origins a
// host's DomainList starts with when it has none yet, in place of the
// built-in list. Entries are separated by semicolons, as in Windows lists
// (PATH, the MSI's own property lists); white space around an entry is
// ignored.

// SeedSeparator separates the entries of a seed.
const SeedSeparator = ";"

// ParseSeed checks a seed and returns it as a list, versioned "seed-" and a
// hash of its entries so that versioninfo tells a seeded list from the
// built-in and the trusted URL's; "" is no seed (nil). Every entry must be a
// valid pattern: the first bad one is the error, named by its position and
// text.
func ParseSeed(seed string) (*List, error) {
	if strings.TrimSpace(seed) == "" {
		return nil, nil
	}
	var lines strings.Builder
	n := 0
	for i, e := range strings.Split(seed, SeedSeparator) {
		e = strings.TrimSpace(e)
		if e == "" {
			continue // "a;b;" or "a;;b"
		}
		p, err := ParsePattern(e)
		if err != nil {
			return nil, fmt.Errorf("entry %d, %s: %w (entries are separated by %q)", i+1, strconv.Quote(e), err, SeedSeparator)
		}
		lines.WriteString(p.String())
		lines.WriteByte('\n')
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%q holds no entry", seed)
	}
	sum := sha256.Sum256([]byte(lines.String()))
	list, bad := Parse([]byte("# version: seed-" + hex.EncodeToString(sum[:4]) + "\n" + lines.String()))
	if len(bad) > 0 {
		return nil, bad[0]
	}
	return list, nil
}
