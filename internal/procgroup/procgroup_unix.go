//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
)

// Own makes cmd, once started, the leader of a new process group.
func Own(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// Term sends SIGTERM to the process group that cmd leads.
func Term(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

// Kill sends SIGKILL to the process group that cmd leads.
func Kill(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
