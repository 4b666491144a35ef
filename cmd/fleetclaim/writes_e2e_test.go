package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestE2EResultsWriteFailureExits: a results file that cannot be written
// (--results /dev/full) is an error on stderr and a non-zero exit, though
// every host was claimed; so is a stdout that cannot take the output.
func TestE2EResultsWriteFailureExits(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	info := startLab(t, 2)
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--results", "/dev/full", "--no-history")
	if r.code != exitFailed {
		t.Errorf("--results /dev/full: exit %d, want %d\n%s", r.code, exitFailed, r.stderr)
	}
	if !strings.Contains(r.stderr, "results file /dev/full") || !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("--results /dev/full: the error is not on stderr:\n%s", r.stderr)
	}

	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, format := range []string{"jsonl", "table"} {
		cmd := exec.Command(binPath, "claim", "-i", info.Inventory(), "--output", format, "--no-history")
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailed {
			t.Errorf("--output %s > /dev/full: %v, want exit %d\n%s", format, err, exitFailed, stderr.String())
		}
		if !strings.Contains(stderr.String(), "writing output") {
			t.Errorf("--output %s > /dev/full: no error on stderr:\n%s", format, stderr.String())
		}
	}
}
