package main

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

var procFreeConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("FreeConsole")

// detachConsole frees the console window Windows opens for a console
// program started at logon (the Run key), so no window stays on screen.
func detachConsole() { _, _, _ = procFreeConsole.Call() }

// prepareChild starts the agent without a console window of its own.
func prepareChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NO_WINDOW}
	cmd.Stdout, cmd.Stderr = nil, nil
}

// stopChild ends the agent: Windows has no SIGTERM for a windowless
// process, and the agent keeps nothing that a clean stop would save.
func stopChild(p *os.Process) { _ = p.Kill() }
