package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// withHostSetting rewrites the lab inventory so that the named hosts carry an
// extra setting (e.g. a room the lab Cloud does not know), and returns the
// new inventory's path.
func withHostSetting(t *testing.T, info *lab.Info, setting string, hosts ...string) string {
	t.Helper()
	inv := mustRead(t, info.Inventory())
	for _, h := range hosts {
		re := regexp.MustCompile(`(?m)^(\s+` + regexp.QuoteMeta(h) + `: \{)`)
		if !re.MatchString(inv) {
			t.Fatalf("host %s not in the lab inventory", h)
		}
		inv = re.ReplaceAllString(inv, "${1}"+setting+", ")
	}
	path := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(path, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const unknownRoom = "rooms: [9f0e6d4c-0000-4000-8000-00000000dead]"

func statusCounts(rs []claim.Result) map[claim.Status]int {
	m := map[claim.Status]int{}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}

func claimedHosts(t *testing.T, info *lab.Info) map[string]int {
	t.Helper()
	all, err := info.ClaimHistory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, c := range all {
		m[c.Hostname]++
	}
	return m
}

// TestE2ECanaryFailureStopsRollout: --serial 1,100% --canary with a failing
// first host exits 3 and leaves every later host untouched.
func TestE2ECanaryFailureStopsRollout(t *testing.T) {
	info := startLab(t, 10)
	inv := withHostSetting(t, info, unknownRoom, info.Hosts[0].Name)
	results := filepath.Join(t.TempDir(), "r.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", inv, "--canary", "--forks", "4", "--results", results)
	if r.code != exitMaxFail {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	recs := readResults(t, results)
	counts := statusCounts(recs)
	if len(recs) != 10 || counts[claim.StatusFailed] != 1 || counts[claim.StatusNotStarted] != 9 {
		t.Fatalf("records %d, counts %v", len(recs), counts)
	}
	for _, rec := range recs {
		if rec.Status == claim.StatusFailed && rec.Category != claim.CatRoomInvalid {
			t.Fatalf("canary failed with %s: %s", rec.Category, rec.Message)
		}
	}
	if n := len(claimedHosts(t, info)); n != 0 {
		t.Fatalf("%d hosts were claimed after the canary failed", n)
	}
}

// TestE2EMaxFailPercentage stops starting hosts once the threshold is passed.
func TestE2EMaxFailPercentage(t *testing.T) {
	info := startLab(t, 12)
	names := []string{}
	for _, h := range info.Hosts[:4] {
		names = append(names, h.Name)
	}
	inv := withHostSetting(t, info, unknownRoom, names...)
	results := filepath.Join(t.TempDir(), "r.jsonl")
	// One host at a time in inventory order: the failures come early.
	r := fleetclaim(t, nil, "claim", "-i", inv, "--forks", "1", "--max-fail-percentage", "20", "--results", results, "--limit", strings.Join(names, ",")+",lab-1*")
	if r.code != exitMaxFail {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	counts := statusCounts(readResults(t, results))
	if counts[claim.StatusNotStarted] == 0 || counts[claim.StatusFailed] == 0 {
		t.Fatalf("counts %v", counts)
	}
}

// TestE2ESIGINTRecordsEveryHost: Ctrl-C mid-run stops new hosts, lets the
// hosts in flight finish, records every host, exits 130.
func TestE2ESIGINTRecordsEveryHost(t *testing.T) {
	// lab-001 and lab-004 come first in the lab inventory and claim at
	// once; every other host's claim takes the lab Cloud 3s, so the signal
	// finds hosts in flight and others not started, however fast the rest is.
	info := startLab(t, 30, "--personalities", "v2=1,v2+cloud-slow=2,v2=1,v2+cloud-slow=26")
	results := filepath.Join(t.TempDir(), "r.jsonl")
	cmd := exec.Command(binPath, "claim", "-i", info.Inventory(), "--forks", "2", "--results", results, "--grace", "60s", "--no-history")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLines(t, results, 2)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want 130\n%s", err, stderr.String())
	}
	recs := readResults(t, results)
	if len(recs) != 30 {
		t.Fatalf("%d records, want one per host (30)", len(recs))
	}
	counts := statusCounts(recs)
	if counts[claim.StatusNotStarted] == 0 || counts[claim.StatusClaimed] < 2 || counts[claim.StatusFailed] != 0 {
		t.Fatalf("counts %v: in-flight hosts should have finished, the rest not started", counts)
	}
	claimed := claimedHosts(t, info)
	for _, rec := range recs {
		if rec.Status == claim.StatusClaimed && claimed[rec.Host] != 1 {
			t.Errorf("%s recorded claimed but the Cloud has %d claims for it", rec.Host, claimed[rec.Host])
		}
		if rec.Status == claim.StatusNotStarted && claimed[rec.Host] != 0 {
			t.Errorf("%s recorded not-started but was claimed", rec.Host)
		}
	}
}

// TestE2ESIGKILLKeepsFinishedHosts: kill -9 mid-run keeps every finished
// host's line; a rerun finishes the rest without claiming anything twice.
func TestE2ESIGKILLKeepsFinishedHosts(t *testing.T) {
	info := startLab(t, 30)
	results := filepath.Join(t.TempDir(), "r.jsonl")
	cmd := exec.Command(binPath, "claim", "-i", info.Inventory(), "--forks", "2", "--results", results, "--no-history")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLines(t, results, 3)
	cmd.Process.Kill()
	cmd.Wait()
	recs := readResultsAfterKill(t, results)
	if len(recs) < 3 || len(recs) >= 30 {
		t.Fatalf("%d records after kill -9", len(recs))
	}
	for _, rec := range recs {
		if rec.Status != claim.StatusClaimed {
			t.Fatalf("record %+v", rec)
		}
	}
	again := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--output", "json")
	if again.code != 0 {
		t.Fatalf("rerun exit %d\n%s", again.code, again.stderr)
	}
	var rerun []claim.Result
	if err := json.Unmarshal([]byte(again.stdout), &rerun); err != nil {
		t.Fatal(err)
	}
	counts := statusCounts(rerun)
	if counts[claim.StatusAlreadyClaimed] < len(recs) || counts[claim.StatusAlreadyClaimed]+counts[claim.StatusClaimed] != 30 {
		t.Fatalf("rerun counts %v (first run finished %d)", counts, len(recs))
	}
	for host, n := range claimedHosts(t, info) {
		if n != 1 {
			t.Errorf("%s was claimed %d times", host, n)
		}
	}
}

// TestE2EDeadline: hosts not started by --deadline are recorded, none lost.
func TestE2EDeadline(t *testing.T) {
	// No host's claim ever answers, so with one fork the deadline always
	// falls while the first host runs, however fast the machine is: that
	// host fails on the deadline and the other 39 are never started.
	info := startLab(t, 40, "--personalities", "v2+claim-hang=40")
	results := filepath.Join(t.TempDir(), "r.jsonl")
	start := time.Now()
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--forks", "1", "--deadline", "700ms", "--results", results)
	if r.code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	recs := readResults(t, results)
	counts := statusCounts(recs)
	if len(recs) != 40 || counts[claim.StatusNotStarted] != 39 || counts[claim.StatusFailed] != 1 {
		t.Fatalf("%d records, counts %v, want 1 failed and 39 not started", len(recs), counts)
	}
	for _, rec := range recs {
		if (rec.Status == claim.StatusNotStarted || rec.Status == claim.StatusFailed) && !strings.Contains(rec.Message, "deadline") {
			t.Fatalf("%s record without the reason: %+v", rec.Status, rec)
		}
	}
	t.Logf("deadline run took %s", time.Since(start))
}

// TestE2EReconcileTwice: the first reconcile claims the fleet, the second
// changes nothing and sends Cloud no claim.
func TestE2EReconcileTwice(t *testing.T) {
	info := startLab(t, 8)
	first := fleetclaim(t, nil, "reconcile", "-i", info.Inventory(), "--output", "json")
	if first.code != 0 {
		t.Fatalf("first reconcile: %d\n%s", first.code, first.stderr)
	}
	puts := countPUTs(t, info)
	second := fleetclaim(t, nil, "reconcile", "-i", info.Inventory(), "--output", "json")
	if second.code != 0 {
		t.Fatalf("second reconcile: %d\n%s", second.code, second.stderr)
	}
	var rs []claim.Result
	if err := json.Unmarshal([]byte(second.stdout), &rs); err != nil {
		t.Fatal(err)
	}
	if c := statusCounts(rs); c[claim.StatusAlreadyClaimed] != 8 {
		t.Fatalf("second reconcile: %v", c)
	}
	if got := countPUTs(t, info); got != puts {
		t.Fatalf("the second reconcile sent %d claims", got-puts)
	}
	if puts != 8 {
		t.Fatalf("the first reconcile sent %d claims, want 8", puts)
	}
}

// waitForLines waits until path has at least n complete lines.
func waitForLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never reached %d lines", path, n)
}

// TestE2ERetryFileAndHistory: the retry file lists exactly the hosts that
// did not end well and works as --limit @FILE; the history shows both runs
// and how a host changed between them.
func TestE2ERetryFileAndHistory(t *testing.T) {
	info := startLab(t, 6)
	bad := info.Hosts[2].Name
	inv := withHostSetting(t, info, unknownRoom, bad)
	dir := t.TempDir()
	retry, hist := filepath.Join(dir, "retry.txt"), filepath.Join(dir, "history")
	first := fleetclaim(t, nil, "claim", "-i", inv, "--retry-file", retry, "--history", hist)
	if first.code != exitFailed {
		t.Fatalf("first run exit %d\n%s", first.code, first.stderr)
	}
	if got := strings.TrimSpace(mustRead(t, retry)); got != bad {
		t.Fatalf("retry file %q, want %q", got, bad)
	}
	// The room is fixed: the retry claims only that host.
	second := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--limit", "@"+retry, "--history", hist, "--output", "json")
	if second.code != 0 {
		t.Fatalf("retry run exit %d\n%s", second.code, second.stderr)
	}
	var rs []claim.Result
	if err := json.Unmarshal([]byte(second.stdout), &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Host != bad || rs[0].Status != claim.StatusClaimed {
		t.Fatalf("retry run: %+v", rs)
	}
	runs := fleetclaim(t, nil, "history", "--history", hist)
	if runs.code != 0 || strings.Count(runs.stdout, " claim ") != 2 || !strings.Contains(runs.stdout, "failed=1") {
		t.Fatalf("history list:\n%s%s", runs.stdout, runs.stderr)
	}
	host := fleetclaim(t, nil, "history", "--history", hist, bad)
	lines := strings.Split(strings.TrimSpace(host.stdout), "\n")
	if host.code != 0 || len(lines) != 3 || !strings.Contains(lines[1], "room-invalid") || !strings.Contains(lines[2], "changed") {
		t.Fatalf("host history:\n%s", host.stdout)
	}
}

// TestE2ESecondSIGINTCancelsAtOnce: with hosts stuck in a claim, a second
// Ctrl-C cancels them; every host still gets a record and the run exits 130.
func TestE2ESecondSIGINTCancelsAtOnce(t *testing.T) {
	info := startLab(t, 6, "--personalities", "v2+claim-hang=6")
	results := filepath.Join(t.TempDir(), "r.jsonl")
	cmd := exec.Command(binPath, "claim", "-i", info.Inventory(), "--forks", "2", "--results", results, "--grace", "10m", "--timeout", "10m", "--no-history")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until both hosts in flight are inside their claim.
	waitForStats(t, info, func(s lab.Stats) bool { return s.CtlRequests >= 2 })
	cmd.Process.Signal(syscall.SIGINT)
	// Signals of one kind do not queue: the second is sent once the
	// first has been handled.
	waitFor(t, "the first SIGINT handled", func() bool { return strings.Contains(stderr.String(), "no new hosts will start") })
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want 130\n%s", err, stderr.String())
	}
	recs := readResults(t, results)
	counts := statusCounts(recs)
	if len(recs) != 6 || counts[claim.StatusFailed] != 2 || counts[claim.StatusNotStarted] != 4 {
		t.Fatalf("%d records, counts %v\n%s", len(recs), counts, stderr.String())
	}
	for _, r := range recs {
		if r.Status == claim.StatusFailed && r.Category != claim.CatCanceled {
			t.Fatalf("in-flight host recorded as %s: %s", r.Category, r.Message)
		}
	}
}

// lockedBuffer is a bytes.Buffer a command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls ok (at most 60 s) until it says yes.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("waited 60s for %s", what)
}

// waitForStats polls the lab's counters until ok says yes.
func waitForStats(t *testing.T, info *lab.Info, ok func(lab.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s, err := info.Stats(context.Background())
		if err == nil && ok(s) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the lab never reached the expected state")
}

// readResultsAfterKill reads a results file whose writer was killed with
// SIGKILL: every whole line must be a record; the last one may be cut
// short, and only when it has no newline: Linux ends a write to a
// regular file at a page boundary when a fatal signal is pending
// (mm/filemap.c, generic_perform_write), so one write of a line can be
// cut by kill -9. fleetclaim's readers skip such a last line too
// (readResultsFile).
func readResultsAfterKill(t *testing.T, path string) []claim.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i+1 < len(b) {
		t.Logf("the last line was cut by the kill (%d bytes): skipped", len(b)-i-1)
		b = b[:i+1]
	}
	var out []claim.Result
	for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var r claim.Result
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("a whole results line is not a record: %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}
