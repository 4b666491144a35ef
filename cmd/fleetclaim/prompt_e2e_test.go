package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/remote"
)

// TestE2EAskBecomePassPrompt: --ask-become-pass asks for the become
// password on the terminal, not for an SSH password. The binary runs on a
// pseudo-terminal (util-linux's script), its answer typed on it.
func TestE2EAskBecomePassPrompt(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to give the binary a terminal")
	}
	info := startLab(t, 1)
	inv := withHostSetting(t, info, "become: sudo", info.Hosts[0].Name)
	q := &remote.Quoter{}
	cmdline := q.Join([]string{binPath, "claim", "-i", inv, "--ask-become-pass", "--no-history", "--no-progress", "--retries", "0"})
	if q.Err != nil {
		t.Fatal(q.Err)
	}
	cmd := exec.Command(scriptBin, "-q", "-e", "-c", cmdline, "/dev/null")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	cmd.Stdin = strings.NewReader("not-the-password\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // the claim itself may fail: the prompt is what is tested
	if !strings.Contains(out.String(), "BECOME password") || strings.Contains(out.String(), "SSH password") {
		t.Fatalf("--ask-become-pass prompted:\n%s", out.String())
	}
}
