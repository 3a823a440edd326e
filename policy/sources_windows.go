package policy

import "golang.org/x/sys/windows/registry"

// Key is the policy key, under HKEY_LOCAL_MACHINE for the machine and
// HKEY_CURRENT_USER for the user.
const Key = `SOFTWARE\Policies\cardbridge`

func platformSources() []source {
	return []source{
		{where: `HKLM\` + Key, named: true, read: func() (Values, error) { return ReadRegistry(registry.LOCAL_MACHINE, Key) }},
		{where: `HKCU\` + Key, named: true, perUser: true, read: func() (Values, error) { return ReadRegistry(registry.CURRENT_USER, Key) }},
	}
}
