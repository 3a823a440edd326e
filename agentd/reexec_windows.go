package agentd

import "errors"

// canReexec: Windows cannot replace a running program's file, so installers
// schedule it for the next restart and agents never see it change.
const canReexec = false

// reexec is not available on Windows.
func reexec(string, []string, []string) error { return errors.ErrUnsupported }
