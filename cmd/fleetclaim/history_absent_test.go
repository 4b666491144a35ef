package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// writeAbsentRun writes one run of records into a history directory.
func writeAbsentRun(t *testing.T, dir, id string, at time.Time, recs ...claim.Result) runMeta {
	t.Helper()
	m := runMeta{ID: id, Command: "claim", Start: at}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, r := range recs {
		l, _ := json.Marshal(r)
		lines = append(append(lines, l...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, id+".jsonl"), lines, 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLastClaim: a host is a candidate after a record with a claim, stays
// one through a failed run (its state unknown) and a plan, and stops being
// one after it is unclaimed or found with no claim.
func TestLastClaim(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	writeAbsentRun(t, dir, "r1", t0,
		claim.Result{Host: "a", Status: claim.StatusClaimed, ClaimedID: "id-a"},
		claim.Result{Host: "b", Status: claim.StatusClaimed, ClaimedID: "id-b"},
		claim.Result{Host: "c", Status: claim.StatusClaimed, ClaimedID: "id-c"},
		claim.Result{Host: "d", Status: claim.StatusClaimed, ClaimedID: "id-d"})
	writeAbsentRun(t, dir, "r2", t0.Add(time.Hour),
		claim.Result{Host: "a", Status: claim.StatusFailed, Category: "connect-refused"},
		claim.Result{Host: "b", Status: claim.StatusUnclaimed, ClaimedID: "id-b"},
		claim.Result{Host: "c", Status: claim.StatusPlanned},
		claim.Result{Host: "d", Status: claim.StatusFailed, Category: "claim-failed", ClaimedID: ""},
		claim.Result{Host: "e", Status: claim.StatusPlanned, ClaimedID: "id-e"})
	writeAbsentRun(t, dir, "r3", t0.Add(2*time.Hour),
		claim.Result{Host: "d", Status: claim.StatusSkipped})
	runs, err := readRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := lastClaim(dir, runs)
	want := map[string]string{"a": "r1", "c": "r1"}
	if len(got) != len(want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	for h, run := range want {
		if got[h].Run != run || got[h].ClaimedID != "id-"+h {
			t.Errorf("%s: %+v, want last claimed in %s", h, got[h], run)
		}
	}
}
