// Package policy reads the settings administrators impose on cardbridge,
// the way they manage Chrome and Edge: on Windows the registry key
// HKLM\SOFTWARE\Policies\cardbridge (Group Policy, with the ADMX template in
// installer/windows/admx), and HKCU\SOFTWARE\Policies\cardbridge for the
// settings a user's agent may take per user, the machine's winning; on
// Linux /etc/cardbridge/policy.json and the *.json files of
// /etc/cardbridge/policy.d (a later file overriding an earlier one); on
// macOS the managed preferences of the domain org.cardbridge (a
// configuration profile), the machine's over the user's.
//
// A policy beats the command line, the environment and every file: each
// program applies the policies that stand for its flags after parsing them
// (package cli), and says where each setting came from (/api/versioninfo,
// doctor, the status page). The DomainList policies are applied while the
// programs run; the others when they start.
//
// The Values type and its readers (JSON files and directories, registry
// keys with ADMX lists, property lists) also serve doctor, which reads the
// browsers' policies.
package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Key is the Windows registry key of the policies, under
// HKEY_LOCAL_MACHINE for the machine and HKEY_CURRENT_USER for the user.
const Key = `SOFTWARE\Policies\cardbridge`

// Kind is the type of a setting's value.
type Kind int

const (
	// Text is a string (REG_SZ; a JSON string).
	Text Kind = iota
	// Number is a whole number ≥ 0 (REG_DWORD; a JSON number).
	Number
	// List is a list of strings (an ADMX list: a subkey of REG_SZ values
	// "1", "2", ...; a JSON array of strings).
	List
)

// Setting is one setting administrators may impose.
type Setting struct {
	// Name is the policy's name: the registry value (or list subkey), the
	// JSON key and the ADMX valueName/key.
	Name string
	Kind Kind
	// PerUser says whether the setting may also be set for one user
	// (HKCU on Windows, the user's managed preferences on macOS); the
	// machine's policy wins.
	PerUser bool
	// Flag is the command-line flag of `cardbridge agent` or
	// `cardbridge-portservice run` the policy stands for; "" for the
	// DomainList policies, which the programs apply while running.
	Flag string
	// Unit, for a Number, is the suffix that makes the flag's value
	// ("s": seconds of a duration flag).
	Unit string
}

// Settings are every policy cardbridge reads. The ADMX template must
// describe exactly these (a test checks it).
var Settings = []Setting{
	{Name: "DomainList", Kind: List},
	{Name: "DomainListFile", Kind: Text},
	{Name: "TrustedURL", Kind: Text, Flag: "trusted-url"},
	{Name: "Ports", Kind: Text, Flag: "ports"},
	{Name: "Range", Kind: Text, Flag: "range"},
	{Name: "LogLevel", Kind: Text, PerUser: true, Flag: "log-level"},
	{Name: "PINPrompt", Kind: Text, PerUser: true, Flag: "pinentry"},
	{Name: "UpgradeCheck", Kind: Number, Flag: "upgrade-check", Unit: "s"},
}

// Lookup finds a setting by name, ignoring case as the registry does.
func Lookup(name string) (Setting, bool) {
	for _, s := range Settings {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Setting{}, false
}

// Value is one policy in force.
type Value struct {
	Setting Setting
	// Text is the value of a Text or Number setting as the flag takes it
	// (a Number with its Unit).
	Text string
	// List is the value of a List setting.
	List []string
	// Where is where the policy was set: a registry value, a file, a
	// managed preference.
	Where string
}

// String shows the value in one line.
func (v Value) String() string {
	if v.Setting.Kind == List {
		return strings.Join(v.List, ", ")
	}
	return v.Text
}

// Set is the policies in force: the settings imposed, and the problems
// found reading them (a source that cannot be read, a policy of the wrong
// type, a name cardbridge does not know), which are ignored and reported.
type Set struct {
	values   map[string]Value
	Problems []string
}

// Get returns the policy imposing the setting called name.
func (s *Set) Get(name string) (Value, bool) {
	if s == nil {
		return Value{}, false
	}
	v, ok := s.values[name]
	return v, ok
}

// Values lists the policies in force in the order of Settings.
func (s *Set) Values() []Value {
	var out []Value
	for _, st := range Settings {
		if v, ok := s.Get(st.Name); ok {
			out = append(out, v)
		}
	}
	return out
}

// ForFlag returns the policy standing for the flag called flag.
func (s *Set) ForFlag(flag string) (Value, bool) {
	for _, st := range Settings {
		if st.Flag == flag {
			return s.Get(st.Name)
		}
	}
	return Value{}, false
}

// source is one place policies are read from, the highest first.
type source struct {
	where   string // a registry key, a file, a managed preferences file
	perUser bool   // holds only the settings that may be set per user
	named   bool   // a registry key: each policy is where\Name
	read    func() (Values, error)
}

// load reads sources, the highest first: the first to set a setting wins.
func load(sources []source) *Set {
	s := &Set{values: map[string]Value{}}
	for _, src := range sources {
		vals, err := src.read()
		if err != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("cannot read the policies of %s: %v", src.where, err))
		}
		names := make([]string, 0, len(vals))
		for name := range vals {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			st, ok := Lookup(name)
			switch {
			case !ok:
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s is not a cardbridge policy; ignored", src.where, name))
				continue
			case src.perUser && !st.PerUser:
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s can be set for the whole machine only; ignored", src.where, st.Name))
				continue
			}
			if _, taken := s.values[st.Name]; taken {
				continue
			}
			v, err := convert(st, vals[name])
			if err != nil {
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %s %v; ignored", src.where, st.Name, err))
				continue
			}
			v.Where = src.where
			if src.named {
				v.Where += `\` + st.Name
			}
			s.values[st.Name] = v
		}
	}
	return s
}

// convert turns a policy as a source holds it into the setting's value.
func convert(st Setting, raw any) (Value, error) {
	v := Value{Setting: st}
	switch st.Kind {
	case Text:
		s, ok := raw.(string)
		if !ok {
			return v, fmt.Errorf("must be text, not %s", typeName(raw))
		}
		v.Text = strings.TrimSpace(s)
	case Number:
		var n int64
		switch x := raw.(type) {
		case uint64:
			n = int64(x)
		case float64:
			if x != float64(int64(x)) {
				return v, fmt.Errorf("must be a whole number, not %v", x)
			}
			n = int64(x)
		case string: // REG_SZ where a REG_DWORD was meant
			var err error
			if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64); err != nil {
				return v, fmt.Errorf("must be a number, not %q", x)
			}
		default:
			return v, fmt.Errorf("must be a number, not %s", typeName(raw))
		}
		if n < 0 {
			return v, fmt.Errorf("must not be negative (%d)", n)
		}
		v.Text = strconv.FormatInt(n, 10) + st.Unit
	case List:
		switch x := raw.(type) {
		case []string:
			v.List = x
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return v, fmt.Errorf("must be a list of text, with no %s in it", typeName(e))
				}
				v.List = append(v.List, s)
			}
		default:
			return v, fmt.Errorf("must be a list, not %s", typeName(raw))
		}
	}
	return v, nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "text"
	case bool:
		return "true/false"
	case float64, uint64:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// Load reads the policies of this machine and of the user running the
// program. It never fails: what cannot be read is in Problems.
func Load() *Set { return load(platformSources()) }

// Of is the policies values would impose from one machine-wide source
// called where: for programs' tests, and tools that show a policy file.
func Of(where string, values Values) *Set {
	return load([]source{{where: where, read: func() (Values, error) { return values, nil }}})
}
