package installer

import (
	"errors"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/eventlog"
)

// eventSourceKey is the port service's event source in the Application
// event log, under HKLM; the MSI registers the same.
const eventSourceKey = `SYSTEM\CurrentControlSet\Services\EventLog\Application\` + ServiceName

// installEventSource registers the port service's event source, so that a
// service installed by hand sends its warnings and errors to the
// Application event log as the MSI's does. It returns where, or "" when
// the source was registered already (it is then left as it is).
func installEventSource() (string, error) {
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, eventSourceKey, registry.QUERY_VALUE); err == nil {
		k.Close()
		return "", nil
	}
	if err := eventlog.InstallAsEventCreate(ServiceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return "", err
	}
	return `HKLM\` + eventSourceKey, nil
}

// removeEventSource removes the port service's event source; "" when there
// was none.
func removeEventSource() (string, error) {
	err := eventlog.Remove(ServiceName)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return `HKLM\` + eventSourceKey, nil
}
