package policy

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// ReadRegistry reads a policy key (such as SOFTWARE\Policies\cardbridge
// under HKEY_LOCAL_MACHINE) as FromRegistry describes; a missing key holds
// no policies. The 64-bit view is read whatever the process.
func ReadRegistry(root registry.Key, path string) (Values, error) {
	k, err := registry.OpenKey(root, path, registry.READ|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return Values{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer k.Close()
	values, err := readValues(k)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	subkeys := map[string]map[string]any{}
	for _, n := range names {
		if strings.EqualFold(n, "Recommended") {
			continue
		}
		sk, err := registry.OpenKey(k, n, registry.READ|registry.WOW64_64KEY)
		if err != nil {
			continue
		}
		v, err := readValues(sk)
		sk.Close()
		if err == nil {
			subkeys[n] = v
		}
	}
	return FromRegistry(values, subkeys), nil
}

// readValues reads a key's string, integer and multi-string values.
func readValues(k registry.Key) (map[string]any, error) {
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, n := range names {
		_, typ, err := k.GetValue(n, nil)
		if err != nil {
			continue
		}
		switch typ {
		case registry.SZ, registry.EXPAND_SZ:
			if s, _, err := k.GetStringValue(n); err == nil {
				out[n] = s
			}
		case registry.DWORD, registry.QWORD:
			if v, _, err := k.GetIntegerValue(n); err == nil {
				out[n] = v
			}
		case registry.MULTI_SZ:
			if v, _, err := k.GetStringsValue(n); err == nil {
				out[n] = v
			}
		}
	}
	return out, nil
}
