package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
)

// TestE2EClonesAcrossRuns: two cloned hosts (one machine GUID) that never
// meet in one run. The first run claims one; a later run, claim or
// reconcile, of the other finds the GUID in the history and reports the
// clone as duplicate-machine-guid, naming the first host and its run,
// without claiming it. The first host itself is never its own clone.
func TestE2EClonesAcrossRuns(t *testing.T) {
	info := startLab(t, 2, "--personalities", "v2+cloned=2")
	inv := filepath.Join(info.Dir, "inventory.yml")
	hist := filepath.Join(info.Dir, "history")
	results := filepath.Join(info.Dir, "results.jsonl")
	a, b := info.Hosts[0].Name, info.Hosts[1].Name
	if info.Hosts[0].MachineGUID != info.Hosts[1].MachineGUID {
		t.Fatal("the lab's clones do not share a machine GUID")
	}
	r := fleetclaim(t, nil, "claim", "-i", inv, "--limit", a, "--history", hist, "--no-progress", "--results", results)
	if r.code != exitOK {
		t.Fatalf("claim %s: exit %d\n%s%s", a, r.code, r.stdout, r.stderr)
	}
	runs, err := readRuns(hist)
	if err != nil || len(runs) != 1 {
		t.Fatalf("history: %v %v", runs, err)
	}
	first := runs[0].ID
	puts := countPUTs(t, info)
	for _, cmd := range []string{"claim", "reconcile"} {
		r = fleetclaim(t, nil, cmd, "-i", inv, "--limit", b, "--history", hist, "--no-progress", "--results", results)
		recs := readResults(t, results)
		if r.code != exitFailed || len(recs) != 1 {
			t.Fatalf("%s %s: exit %d\n%s%s", cmd, b, r.code, r.stdout, r.stderr)
		}
		res := recs[0]
		if res.Category != claim.CatDuplicateGUID || res.DuplicateOf != a || res.DuplicateRun != first ||
			!strings.Contains(res.Message, a) || !strings.Contains(res.Message, first) {
			t.Errorf("%s %s: [%s] duplicate of %q in run %q: %s", cmd, b, res.Category, res.DuplicateOf, res.DuplicateRun, res.Message)
		}
	}
	if n := countPUTs(t, info); n != puts {
		t.Errorf("%d claims sent for the clone", n-puts)
	}
	// The first host again: its own GUID in its own past is no clone.
	r = fleetclaim(t, nil, "reconcile", "-i", inv, "--limit", a, "--history", hist, "--no-progress", "--results", results)
	if recs := readResults(t, results); r.code != exitOK || len(recs) != 1 || recs[0].Category == claim.CatDuplicateGUID {
		t.Fatalf("reconcile %s: exit %d\n%s%s", a, r.code, r.stdout, r.stderr)
	}
}
