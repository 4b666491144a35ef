package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// stallCap bounds a run of the stall tests: far past their --deadline or
// --grace, so that a run that hangs fails the test instead of holding it
// for the suite's timeout.
const stallCap = 3 * time.Minute

// runCapped starts the binary with args and returns the command; the
// caller waits for it with waitCapped.
func runCapped(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stallCap)
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(cmd.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return cmd, &stderr, cancel
}

// exitOf is a finished command's exit code; it fails the test when the
// command was killed by stallCap.
func exitOf(t *testing.T, cmd *exec.Cmd, err error, stderr *bytes.Buffer) int {
	t.Helper()
	ee, ok := err.(*exec.ExitError)
	if err != nil && !ok {
		t.Fatalf("fleetclaim: %v", err)
	}
	if ok && ee.ExitCode() < 0 {
		t.Fatalf("fleetclaim still ran after %v and was killed: a stalled host hung the run\n%s", stallCap, tail(stderr.String(), 3000))
	}
	return cmd.ProcessState.ExitCode()
}

// stallLab is two healthy hosts and one of each stall after the handshake.
func stallLab(t *testing.T) (*lab.Info, map[string]bool) {
	info := startLab(t, 4, "--personalities", "v2=2,v2+"+string(lab.FaultSessionStall)+"=1,v2+"+string(lab.FaultExecStall)+"=1")
	stalled := map[string]bool{}
	for _, h := range info.Hosts {
		stalled[h.Name] = h.Personality.Has(lab.FaultSessionStall) || h.Personality.Has(lab.FaultExecStall)
	}
	return info, stalled
}

// TestE2EStalledHostTimesOut: hosts that complete the handshake and answer
// keepalives but never answer a session open or an exec end with their
// timeout record when --timeout ends; the healthy ones are claimed and the
// run ends with every host recorded.
func TestE2EStalledHostTimesOut(t *testing.T) {
	info, stalled := stallLab(t)
	results := filepath.Join(t.TempDir(), "r.jsonl")
	cmd, stderr, cancel := runCapped(t, "claim", "-i", info.Inventory(), "--results", results, "--no-progress",
		"--timeout", "5s", "--deadline", "60s", "--retries", "0")
	defer cancel()
	code := exitOf(t, cmd, cmd.Wait(), stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailed, tail(stderr.String(), 3000))
	}
	checkStallRecords(t, readResults(t, results), stalled, claim.CatTimeout)
}

// TestE2EStalledHostSIGTERM: with no --timeout to end them, stalled hosts
// are ended by SIGTERM's grace period: the run exits 130 with every host
// recorded, the stalled ones canceled.
func TestE2EStalledHostSIGTERM(t *testing.T) {
	info, stalled := stallLab(t)
	results := filepath.Join(t.TempDir(), "r.jsonl")
	cmd, stderr, cancel := runCapped(t, "claim", "-i", info.Inventory(), "--results", results, "--no-progress",
		"--timeout", "30m", "--grace", "1s", "--retries", "0", "--no-history")
	defer cancel()
	// Every host starts at once (4 < --forks): once the healthy ones are
	// recorded, the stalled ones are in flight.
	waitForLines(t, results, 2)
	cmd.Process.Signal(syscall.SIGTERM)
	code := exitOf(t, cmd, cmd.Wait(), stderr)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, tail(stderr.String(), 3000))
	}
	checkStallRecords(t, readResults(t, results), stalled, claim.CatCanceled)
}

func checkStallRecords(t *testing.T, recs []claim.Result, stalled map[string]bool, cat claim.Category) {
	t.Helper()
	if len(recs) != len(stalled) {
		t.Fatalf("%d records for %d hosts: %+v", len(recs), len(stalled), recs)
	}
	for _, r := range recs {
		switch {
		case stalled[r.Host] && (r.Status != claim.StatusFailed || r.Category != cat):
			t.Errorf("stalled %s: %s/%s %q, want failed/%s", r.Host, r.Status, r.Category, r.Message, cat)
		case !stalled[r.Host] && r.Status != claim.StatusClaimed:
			t.Errorf("healthy %s: %s/%s %q, want claimed", r.Host, r.Status, r.Category, r.Message)
		}
	}
}
