//go:build windows

package procgroup

import (
	"os/exec"
	"syscall"
)

// Own starts cmd in a new process group.
func Own(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// Term ends cmd's process: Windows has no SIGTERM to send.
func Term(cmd *exec.Cmd) error { return cmd.Process.Kill() }

// Kill ends cmd's process.
func Kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }
