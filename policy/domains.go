package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/atomicfile"
	"github.com/cardbridge/cardbridge/domainlist"
)

// maxDomainListFile bounds the file the DomainListFile policy names.
const maxDomainListFile = 1 << 20

// Imposed is the DomainList the policies impose.
type Imposed struct {
	List *domainlist.List
	// Source says where it came from, for versioninfo: "policy:" and
	// the registry value, policy file or the file DomainListFile names.
	Source string
	// Bad are the entries (or file lines) dropped, by number and reason.
	Bad []domainlist.LineError
}

// DomainList returns the DomainList the policies impose: the DomainList
// policy's entries, else the file the DomainListFile policy names; nil when
// neither is set. The list is used as given, even empty (no page is then
// allowed): an administrator's list is never replaced by the built-in one.
// A DomainListFile that cannot be read is an error, for the caller to keep
// the list in force.
func (s *Set) DomainList() (*Imposed, error) {
	if v, ok := s.Get("DomainList"); ok {
		var b strings.Builder
		for _, e := range v.List {
			// One entry is one line: nothing in it may start another.
			e = strings.TrimSpace(e)
			// A bad one still takes its line (and is reported as bad), so
			// that line numbers are entry numbers.
			if strings.ContainsAny(e, "\r\n") || strings.HasPrefix(e, "#") {
				e = "\x00"
			}
			b.WriteString(e)
			b.WriteByte('\n')
		}
		sum := sha256.Sum256([]byte(b.String()))
		text := "# version: policy-" + hex.EncodeToString(sum[:4]) + "\n" + b.String()
		list, bad := domainlist.Parse([]byte(text))
		for i := range bad {
			bad[i].Line-- // entry numbers, not counting the version line
		}
		return &Imposed{List: list, Source: "policy:" + v.Where, Bad: bad}, nil
	}
	if v, ok := s.Get("DomainListFile"); ok {
		if v.Text == "" {
			return nil, fmt.Errorf("the DomainListFile policy (%s) is empty", v.Where)
		}
		data, err := atomicfile.ReadRegular(v.Text, maxDomainListFile)
		if err != nil {
			return nil, fmt.Errorf("the DomainListFile policy (%s): %w", v.Where, err)
		}
		list, bad := domainlist.Parse(data)
		return &Imposed{List: list, Source: "policy:" + v.Where + " file:" + v.Text, Bad: bad}, nil
	}
	return nil, nil
}
