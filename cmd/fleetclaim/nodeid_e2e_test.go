package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// TestE2ECloudProofByNodeID: Cloud lists nodes by the node id it assigned
// (nd), not by the claimed id the agent claimed with. The lab Cloud assigns
// node ids of its own; the proof must find every node by the node id the
// agent reports once online (/api/v2/info agents[0].nd, aclk-state json
// node-instances[self].node-id), or, for an agent that does not report
// one (a v1 agent without /api/v2/info), by its node name. Every record
// carries the node id, and --fix-rooms adds nodes to rooms by node id.
func TestE2ECloudProofByNodeID(t *testing.T) {
	info := startLab(t, 5, "--personalities", "v2=3,v1=1,v1:1.37.1=1")
	inv := filepath.Join(info.Dir, "inventory.yml")
	results := filepath.Join(info.Dir, "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", inv, "--wait", "20s", "--no-progress", "--no-history", "--results", results)
	if r.code != exitOK || !strings.Contains(r.stderr, "5/5 nodes confirmed by Cloud") {
		t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	byClaimed := map[string]lab.Claim{}
	for _, c := range mustClaims(t, info) {
		if c.ND == "" || strings.EqualFold(c.ND, c.NodeID) {
			t.Fatalf("the lab Cloud's node id %q of %s is not its own (claimed id %s)", c.ND, c.Hostname, c.NodeID)
		}
		byClaimed[c.NodeID] = c
	}
	checkRecords := func(recs []claim.Result) {
		t.Helper()
		for _, res := range recs {
			c, ok := byClaimed[res.ClaimedID]
			if !ok {
				t.Errorf("%s: claimed id %s unknown to the lab Cloud", res.Host, res.ClaimedID)
				continue
			}
			if res.NodeID != c.ND || res.Cloud == nil || !res.Cloud.Confirmed {
				t.Errorf("%s: node id %q (Cloud's %q), cloud %+v: %s", res.Host, res.NodeID, c.ND, res.Cloud, res.Message)
			}
		}
	}
	recs := readResults(t, results)
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	checkRecords(recs)

	// --fix-rooms on every host: one more room each, added by node id.
	var edge string
	for _, rm := range info.Rooms {
		if rm.Name == "edge" {
			edge = rm.ID
			break
		}
	}
	invText := mustRead(t, inv)
	moved := filepath.Join(info.Dir, "moved.yml")
	writeTestFile(t, moved, strings.Replace(invText, "rooms: [staging]", "rooms: [staging, "+edge+"]", 1))
	r = fleetclaim(t, nil, "reconcile", "-i", moved, "--fix-rooms", "--no-progress", "--no-history", "--results", results)
	if r.code != exitOK || !strings.Contains(r.stderr, "5/5 nodes confirmed by Cloud") {
		t.Fatalf("reconcile --fix-rooms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkRecords(readResults(t, results))
}
