package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// writeRun writes one run of the history by hand.
func writeRun(t *testing.T, dir, id string, start time.Time, recs ...claim.Result) {
	t.Helper()
	meta, _ := json.Marshal(runMeta{ID: id, Command: "claim", Start: start})
	var lines []byte
	for _, r := range recs {
		b, _ := json.Marshal(r)
		lines = append(append(lines, b...), '\n')
	}
	if os.WriteFile(filepath.Join(dir, id+".json"), meta, 0o600) != nil || os.WriteFile(filepath.Join(dir, id+".jsonl"), lines, 0o600) != nil {
		t.Fatal("cannot write the history")
	}
}

// TestPastGUIDs: the first host seen with a GUID owns it while its latest
// record has it; a host given a new identity since gives it up, and a
// record refused as a clone owns nothing.
func TestPastGUIDs(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	writeRun(t, dir, "r1", t0,
		claim.Result{Host: "a", MachineGUID: "g1"}, claim.Result{Host: "c", MachineGUID: "g2"})
	writeRun(t, dir, "r2", t0.Add(time.Hour),
		claim.Result{Host: "b", MachineGUID: "g1", Category: claim.CatDuplicateGUID},
		claim.Result{Host: "c", MachineGUID: "g3"}, // a new identity
		claim.Result{Host: "a", MachineGUID: "g1"})
	p, err := loadPastGUIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ guid, host, other, run string }{
		{"g1", "b", "a", "r2"}, // a's latest run with g1
		{"g1", "a", "", ""},    // its own GUID
		{"g2", "d", "", ""},    // c gave g2 up
		{"g3", "d", "c", "r2"},
		{"g9", "d", "", ""},
	} {
		if other, run := p.GUIDOwner(tc.guid, tc.host); other != tc.other || run != tc.run {
			t.Errorf("GUIDOwner(%s, %s) = %q %q, want %q %q", tc.guid, tc.host, other, run, tc.other, tc.run)
		}
	}
	if p, err := loadPastGUIDs(filepath.Join(dir, "none")); err != nil || p == nil {
		t.Errorf("missing history: %v", err)
	}
}
