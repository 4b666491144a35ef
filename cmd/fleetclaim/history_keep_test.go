package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPruneHistoryKeepsTheNewest: after a run, the history keeps the
// newest runs up to the limit, their .json and .jsonl alike, the run just
// made always among them; 0 keeps every run; a file the history did not
// write is left alone.
func TestPruneHistoryKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 5 {
		id := start.Add(time.Duration(i)*time.Hour).Format("20060102T150405Z") + "-00000" + string(rune('0'+i))
		ids = append(ids, id)
		b, _ := json.Marshal(runMeta{ID: id, Start: start.Add(time.Duration(i) * time.Hour)})
		os.WriteFile(filepath.Join(dir, id+".json"), b, 0o600)
		os.WriteFile(filepath.Join(dir, id+".jsonl"), []byte("{}\n"), 0o600)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine\n"), 0o600)
	if err := pruneHistory(dir, 0, ids[4]); err != nil {
		t.Fatal(err)
	}
	if got := historyIDs(t, dir); len(got) != 5 {
		t.Fatalf("keep 0 left %v, want all 5 runs", got)
	}
	if err := pruneHistory(dir, 2, ids[4]); err != nil {
		t.Fatal(err)
	}
	if got := historyIDs(t, dir); !slices.Equal(got, ids[3:]) {
		t.Fatalf("keep 2 left %v, want %v", got, ids[3:])
	}
	for _, id := range ids[:3] {
		if _, err := os.Stat(filepath.Join(dir, id+".jsonl")); !os.IsNotExist(err) {
			t.Errorf("%s.jsonl kept: %v", id, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("a file not of the history removed: %v", err)
	}
	// The current run survives a limit of 1 even when a clock step made
	// an older-looking start time.
	if err := pruneHistory(dir, 1, ids[3]); err != nil {
		t.Fatal(err)
	}
	if got := historyIDs(t, dir); !slices.Equal(got, ids[3:4]) {
		t.Fatalf("keep 1 (current %s) left %v", ids[3], got)
	}
}

// historyIDs lists the run ids of dir's .json files, sorted.
func historyIDs(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var ids []string
	for _, f := range files {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	slices.Sort(ids)
	return ids
}

// TestE2EHistoryKeep: runs with --history-keep 2 leave the two newest in
// the history, as `fleetclaim history` lists them.
func TestE2EHistoryKeep(t *testing.T) {
	info := startLab(t, 2, "--personalities", "v2=2")
	hist := t.TempDir()
	for range 3 {
		r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--history", hist, "--history-keep", "2", "--no-progress", "--wait", "10s")
		if r.code != exitOK {
			t.Fatalf("claim: exit %d\n%s", r.code, r.stderr)
		}
	}
	if got := historyIDs(t, hist); len(got) != 2 {
		t.Fatalf("history after 3 runs with --history-keep 2: %v", got)
	}
	r := fleetclaim(t, nil, "history", "--history", hist)
	if r.code != exitOK || strings.Count(r.stdout, " claim ") != 2 {
		t.Errorf("fleetclaim history: exit %d\n%s", r.code, r.stdout)
	}
}
