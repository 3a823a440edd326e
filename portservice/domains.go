package portservice

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/rs/zerolog"

	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/domainlist"
)

// BuiltinDomains is the DomainList a host starts with, before an admin or
// the trusted URL gives another.
const BuiltinDomains = `# version: builtin-1
https://my.esr.nhs.uk
https://*.spineservices.nhs.uk
`

// maxDomainFile bounds how much of DomainList.txt is read.
const maxDomainFile = 1 << 20

// loadDomains reads the DomainList file at path. Whatever is wrong with
// the file — missing, empty, unreadable bytes, bad lines — it returns a
// usable list: the good lines, or the built-in list when none are good.
// When the file on disk was not clean, it is rewritten clean (atomically).
func loadDomains(path string, log zerolog.Logger) *domainlist.List {
	builtin, _ := domainlist.Parse([]byte(BuiltinDomains))
	data, err := readCapped(path, maxDomainFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info().Str("file", path).Msg("no DomainList yet; writing the built-in one")
		writeDomains(path, builtin, log)
		return builtin
	case err != nil:
		// Unreadable (permissions, I/O): serve the built-in list, and leave
		// the file for an admin to look at.
		log.Error().Err(err).Str("file", path).Msg("cannot read the DomainList; using the built-in one")
		return builtin
	}
	list, bad := domainlist.Parse(data)
	for _, e := range bad {
		log.Warn().Str("file", path).Int("line", e.Line).Err(e.Err).Msg("dropping a bad DomainList line")
	}
	if list.Len() == 0 {
		log.Warn().Str("file", path).Msg("the DomainList has no usable entry; using the built-in one")
		list = builtin
	}
	if !bytes.Equal(data, list.Format()) {
		writeDomains(path, list, log)
	}
	return list
}

// writeDomains replaces the file with list's clean form.
func writeDomains(path string, list *domainlist.List, log zerolog.Logger) {
	if err := atomicfile.Write(path, list.Format(), 0o644); err != nil {
		log.Error().Err(err).Str("file", path).Msg("cannot write the DomainList")
		return
	}
	log.Info().Str("file", path).Str("version", list.Version()).Int("entries", list.Len()).Msg("DomainList written")
}

// readCapped reads at most max bytes of a file.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
