package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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

// TestE2ERetryFileAfterKill: a run killed with -9 leaves no retry file of
// an earlier run behind: the file lists, at any moment, every host of this
// run that has not ended well yet (so --limit @FILE finishes the work).
func TestE2ERetryFileAfterKill(t *testing.T) {
	// Every claim takes the lab Cloud 3s: with one fork, the kill finds most
	// hosts not started.
	info := startLab(t, 6, "--personalities", "v2+cloud-slow=6")
	dir := t.TempDir()
	retry, results := filepath.Join(dir, "retry.txt"), filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(retry, []byte("host-of-an-earlier-run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "claim", "-i", info.Inventory(), "--forks", "1", "--results", results,
		"--retry-file", retry, "--no-history", "--no-progress")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLines(t, results, 1)
	cmd.Process.Kill()
	cmd.Wait()
	listed := map[string]bool{}
	for _, l := range strings.Fields(mustRead(t, retry)) {
		listed[l] = true
	}
	if listed["host-of-an-earlier-run"] {
		t.Fatalf("the retry file is the earlier run's:\n%s", mustRead(t, retry))
	}
	ended := map[string]bool{}
	for _, r := range readResults(t, results) {
		ended[r.Host] = r.Status.OK()
	}
	for _, h := range info.Hosts {
		if !ended[h.Name] && !listed[h.Name] {
			t.Errorf("%s has not ended well but is not in the retry file", h.Name)
		}
	}
	if len(ended) >= len(info.Hosts) {
		t.Fatalf("every host finished before the kill: the test proves nothing")
	}
}
