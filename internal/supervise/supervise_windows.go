package supervise

import (
	"os"
	"os/exec"
	"syscall"
)

// kernel32.dll is one of Windows's known DLLs, mapped into every process
// from the system folder, so no search path is involved in finding it.
// The standard library's syscall is enough for it: golang.org/x/sys/windows
// would bring in package net with it.
var procFreeConsole = syscall.NewLazyDLL("kernel32.dll").NewProc("FreeConsole")

// createNoWindow is CREATE_NO_WINDOW, a process creation flag.
const createNoWindow = 0x08000000

// detachConsole frees the console window Windows opens for a console
// program started at logon (the Run key), so no window stays on screen.
func detachConsole() { _, _, _ = procFreeConsole.Call() }

// prepareChild starts the agent without a console window of its own.
func prepareChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: createNoWindow}
	cmd.Stdout, cmd.Stderr = nil, nil
}

// stopChild ends the agent: Windows has no SIGTERM for a windowless
// process, and the agent keeps nothing that a clean stop would save.
func stopChild(p *os.Process) { _ = p.Kill() }
