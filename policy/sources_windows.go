package policy

import "golang.org/x/sys/windows/registry"

func platformSources() []source {
	return []source{
		{where: `HKLM\` + Key, named: true, read: func() (Values, error) { return ReadRegistry(registry.LOCAL_MACHINE, Key) }},
		{where: `HKCU\` + Key, named: true, perUser: true, read: func() (Values, error) { return ReadRegistry(registry.CURRENT_USER, Key) }},
	}
}
