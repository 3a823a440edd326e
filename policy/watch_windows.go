package policy

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// platformWatch tells of changes under HKLM\SOFTWARE\Policies and
// HKCU\SOFTWARE\Policies (or SOFTWARE, where Policies does not exist yet),
// which hold cardbridge's key once Group Policy creates it.
func platformWatch(ctx context.Context) (<-chan struct{}, error) {
	var keys []registry.Key
	var events []windows.Handle
	closeAll := func() {
		for _, k := range keys {
			k.Close()
		}
		for _, e := range events {
			windows.CloseHandle(e)
		}
	}
	stop, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("watch the policies: %w", err)
	}
	events = append(events, stop)
	for _, root := range []registry.Key{registry.LOCAL_MACHINE, registry.CURRENT_USER} {
		k, err := registry.OpenKey(root, `SOFTWARE\Policies`, registry.NOTIFY)
		if errors.Is(err, registry.ErrNotExist) {
			k, err = registry.OpenKey(root, `SOFTWARE`, registry.NOTIFY)
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("watch the policies: open the registry: %w", err)
		}
		keys = append(keys, k)
		ev, err := windows.CreateEvent(nil, 0, 0, nil)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("watch the policies: %w", err)
		}
		events = append(events, ev)
	}
	// A registry notification lasts only as long as the thread that asked
	// for it: one locked thread asks, waits and asks again.
	ch := make(chan struct{}, 1)
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer closeAll()
		arm := func(i int) error {
			return windows.RegNotifyChangeKeyValue(windows.Handle(keys[i]), true,
				windows.REG_NOTIFY_CHANGE_NAME|windows.REG_NOTIFY_CHANGE_LAST_SET, events[i+1], true)
		}
		for i := range keys {
			if err := arm(i); err != nil {
				ready <- fmt.Errorf("watch the policies: %w", err)
				return
			}
		}
		ready <- nil
		defer close(ch)
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-ctx.Done():
				windows.SetEvent(stop)
			case <-done:
			}
		}()
		for {
			r, err := windows.WaitForMultipleObjects(events, false, windows.INFINITE)
			i := int(r) - windows.WAIT_OBJECT_0 - 1
			if err != nil || i < 0 || i >= len(keys) {
				return // stopped, or the wait failed: the caller looks on a timer
			}
			if arm(i) != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return ch, nil
}
