package logging

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/eventlog"
)

// EventSourceKey is where Windows keeps the Application event log's sources:
// the MSI creates EventSourceKey\<source> at install and deletes it at
// uninstall.
const EventSourceKey = `SYSTEM\CurrentControlSet\Services\EventLog\Application`

// openEventLog opens the Application event log for writing as source. The
// source must be registered: Windows would take events from an unknown
// source too, but show each as "the description for Event ID ... cannot
// be found" rather than cardbridge's text, so an unregistered source (the
// port service run by hand, without the MSI) is reported as an error and
// the program logs to its file only.
func openEventLog(source string) (eventSink, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, EventSourceKey+`\`+source, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, fmt.Errorf("the event source %s is not registered (HKLM\\%s\\%s; the MSI registers it)", source, EventSourceKey, source)
	}
	if err != nil {
		return nil, fmt.Errorf("event source %s: %w", source, err)
	}
	k.Close()
	l, err := eventlog.Open(source)
	if err != nil {
		return nil, fmt.Errorf("open the event log as %s: %w", source, err)
	}
	return l, nil
}
