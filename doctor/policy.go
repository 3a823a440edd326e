package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Policies are a browser's policies by name, with JSON's types (bool,
// float64, string, []any) or the registry's (uint64, string, []string).
type Policies map[string]any

// Bool reads a boolean policy (a registry DWORD counts, non-zero = true).
func (p Policies) Bool(name string) (value, set bool) {
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
func (p Policies) Int(name string) (int, bool) {
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
func (p Policies) List(name string) (list []string, set bool) {
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

// merge sets every policy of lower that p does not set.
func (p Policies) merge(lower Policies) {
	for k, v := range lower {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
}

// readPolicies reads b's policy sources, the highest first, into
// b.Policies; the errors of those that could not be read are joined in
// b.Err. It reports whether b is worth listing: installed, or with policies
// or errors.
func (b *Browser) readPolicies(sources ...func() (Policies, error)) bool {
	b.Policies = Policies{}
	var errs []error
	for _, read := range sources {
		p, err := read()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Policies.merge(p)
	}
	b.Err = errors.Join(errs...)
	return b.Installed || len(b.Policies) > 0 || b.Err != nil
}

// parseJSONPolicies parses one policy file: a JSON object of policies.
func parseJSONPolicies(data []byte) (Policies, error) {
	var p Policies
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("not a JSON object")
	}
	return p, nil
}

// readPolicyDir reads every *.json file of dir, as Chromium on Linux does;
// a later file (by name) overrides an earlier one. A missing directory
// holds no policies. A file that cannot be read or parsed is skipped and
// reported in the error, with the policies of the others.
func readPolicyDir(dir string) (Policies, error) {
	out := Policies{}
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
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err == nil {
			var p Policies
			if p, err = parseJSONPolicies(data); err == nil {
				for k, v := range p {
					out[k] = v
				}
				continue
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	return out, errors.Join(errs...)
}

// policiesFromRegistry turns the values of a browser's policy key into
// Policies: each value is a policy; each subkey (but "Recommended") is a
// list policy whose entries are its string values "1", "2", ... in
// numeric order. values and subkeys hold what the registry holds: string,
// uint64 or []string.
func policiesFromRegistry(values map[string]any, subkeys map[string]map[string]any) Policies {
	p := Policies{}
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

// urlPattern is a Chromium URL pattern as policies such as
// LocalNetworkAccessAllowedForUrls and CookiesAllowedForUrls take them:
// [scheme://][[*.]]host[:port][/path], or "*".
type urlPattern struct {
	scheme     string // "" or "*": any
	host       string // lower case, IPv6 in brackets; "" with anyHost
	anyHost    bool
	subdomains bool   // "[*.]host": host and every name under it
	port       string // "" or "*": any
}

// parseURLPattern parses one pattern; ok is false for nonsense.
func parseURLPattern(s string) (urlPattern, bool) {
	var p urlPattern
	s = strings.TrimSpace(s)
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		p.scheme, s = strings.ToLower(scheme), rest
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if rest, ok := strings.CutPrefix(s, "[*.]"); ok {
		p.subdomains, s = true, rest
	}
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return p, false
		}
		host = s[:end+1]
		if rest := s[end+1:]; rest != "" {
			port, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return p, false
			}
			p.port = port
		}
	} else if h, port, ok := strings.Cut(s, ":"); ok {
		host, p.port = h, port
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	switch host {
	case "":
		return p, false
	case "*":
		p.anyHost = true
	default:
		p.host = host
	}
	return p, true
}

// covers reports whether p matches every origin of scheme://[*.]host:port
// (wildcard: host's subdomains; port 0: the scheme's default).
func (p urlPattern) covers(scheme, host string, wildcard bool, port int) bool {
	if p.scheme != "" && p.scheme != "*" && p.scheme != scheme {
		return false
	}
	if p.port != "" && p.port != "*" {
		if port == 0 {
			port = 443
			if scheme == "http" {
				port = 80
			}
		}
		if p.port != strconv.Itoa(port) {
			return false
		}
	}
	switch {
	case p.anyHost:
		return true
	case p.subdomains:
		return host == p.host || strings.HasSuffix(host, "."+p.host)
	}
	return !wildcard && host == p.host
}

// touches reports whether p matches at least one origin of
// scheme://[*.]host:port, as a block-list pattern that blocks some of a
// wildcard entry's sites does.
func (p urlPattern) touches(scheme, host string, wildcard bool, port int) bool {
	if !wildcard || p.anyHost {
		return p.covers(scheme, host, wildcard, port)
	}
	// A pattern for host or a name under it, on the entry's scheme and port.
	probe := p
	probe.anyHost, probe.subdomains, probe.host = true, false, ""
	if !probe.covers(scheme, host, wildcard, port) {
		return false
	}
	// The entry is the names under host (not host itself).
	if strings.HasSuffix(p.host, "."+host) {
		return true
	}
	return p.subdomains && (p.host == host || strings.HasSuffix(host, "."+p.host))
}

// anyTouches returns the first of patterns that matches some origin of the
// entry, or "".
func anyTouches(patterns []string, scheme, host string, wildcard bool, port int) string {
	for _, s := range patterns {
		if p, ok := parseURLPattern(s); ok && p.touches(scheme, host, wildcard, port) {
			return s
		}
	}
	return ""
}

// anyCovers returns the first of patterns that covers the origin, or "".
func anyCovers(patterns []string, scheme, host string, wildcard bool, port int) string {
	for _, s := range patterns {
		if p, ok := parseURLPattern(s); ok && p.covers(scheme, host, wildcard, port) {
			return s
		}
	}
	return ""
}
