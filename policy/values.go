package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Values are policies by name, as one source holds them: with JSON's types
// (bool, float64, string, []any) or the Windows registry's (uint64, string,
// []string). cardbridge's own policies and the browsers' (which doctor
// reads) are both Values.
type Values map[string]any

// Bool reads a boolean policy (a registry DWORD counts, non-zero = true).
func (p Values) Bool(name string) (value, set bool) {
	switch v := p[name].(type) {
	case bool:
		return v, true
	case float64:
		return v != 0, true
	case uint64:
		return v != 0, true
	case int:
		return v != 0, true
	}
	return false, false
}

// Int reads an integer policy.
func (p Values) Int(name string) (int, bool) {
	switch v := p[name].(type) {
	case float64:
		return int(v), true
	case uint64:
		return int(v), true
	case int:
		return v, true
	}
	return 0, false
}

// List reads a list-of-strings policy; set is false when it is absent.
func (p Values) List(name string) (list []string, set bool) {
	switch v := p[name].(type) {
	case []string:
		return v, true
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				list = append(list, s)
			}
		}
		return list, true
	}
	return nil, false
}

// Merge sets every policy of lower that p does not set: p is the higher
// source.
func (p Values) Merge(lower Values) {
	for k, v := range lower {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
}

// ParseJSON parses one policy file: a JSON object of policies.
func ParseJSON(data []byte) (Values, error) {
	var p Values
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("not a JSON object")
	}
	return p, nil
}

// maxFile bounds a policy file: policies are a few lines.
const maxFile = 1 << 20

// ReadJSONFile reads one policy file; a missing file holds no policies.
func ReadJSONFile(path string) (Values, error) {
	// Stat before opening: a named pipe put there is refused, not waited
	// on. A symbolic link is followed, as configuration tools make them.
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Values{}, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s is larger than 1 MiB", path)
	}
	p, err := ParseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ReadJSONDir reads every *.json file of dir, as Chromium on Linux does; a
// later file (by name) overrides an earlier one. A missing directory holds
// no policies. A file that cannot be read or parsed is skipped and reported
// in the error, with the policies of the others.
func ReadJSONDir(dir string) (Values, error) {
	out := Values{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p, err := ReadJSONFile(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for k, v := range p {
			out[k] = v
		}
	}
	return out, errors.Join(errs...)
}

// FromRegistry turns the values of a policy key into Values: each value is
// a policy; each subkey (but "Recommended") is a list policy whose entries
// are its string values "1", "2", ... in numeric order, as an ADMX <list>
// element writes them. values and subkeys hold what the registry holds:
// string, uint64 or []string.
func FromRegistry(values map[string]any, subkeys map[string]map[string]any) Values {
	p := Values{}
	for k, v := range values {
		p[k] = v
	}
	for name, vals := range subkeys {
		if strings.EqualFold(name, "Recommended") {
			continue
		}
		type entry struct {
			n int
			s string
		}
		var es []entry
		for k, v := range vals {
			n, err := strconv.Atoi(k)
			s, ok := v.(string)
			if err != nil || n < 1 || !ok {
				continue
			}
			es = append(es, entry{n, s})
		}
		slices.SortFunc(es, func(a, b entry) int { return a.n - b.n })
		list := make([]string, len(es))
		for i, e := range es {
			list[i] = e.s
		}
		p[name] = list
	}
	return p
}
