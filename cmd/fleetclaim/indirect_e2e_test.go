package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
)

// TestE2EIndirectViaParent: agents that stream to a claimed parent report
// "indirect" whether or not they are claimed themselves (netdata v2.11.0
// src/claim/cloud-status.c:21-36; the lab's via-parent fault). fleetclaim
// decides from the agent's own claim (aclk-state json's agent-claimed,
// src/aclk/aclk.c:1249-1257): unclaimed + indirect is claimed as usual,
// with a note; claimed + indirect is claimed and reachable through its
// parent, which verify accepts and reconcile never reclaims.
func TestE2EIndirectViaParent(t *testing.T) {
	const n = 2
	info := startLab(t, n, "--personalities", "v2+via-parent=2")
	decode := func(out string) []claim.Result {
		t.Helper()
		var recs []claim.Result
		if err := json.Unmarshal([]byte(out), &recs); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(recs) != n {
			t.Fatalf("%d records", len(recs))
		}
		return recs
	}
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--output", "json", "--wait", "5s", "--no-history")
	for _, rec := range decode(r.stdout) {
		if rec.Status != claim.StatusClaimed || !strings.Contains(rec.Message, "through its parent") || !strings.Contains(strings.Join(rec.Warnings, " "), "through its parent") {
			t.Errorf("claim %s: %s %s %q %v", rec.Host, rec.Status, rec.Category, rec.Message, rec.Warnings)
		}
	}
	puts := countPUTs(t, info)
	for _, mode := range []string{"verify", "reconcile"} {
		r := fleetclaim(t, nil, mode, "-i", info.Inventory(), "--output", "json", "--no-history")
		for _, rec := range decode(r.stdout) {
			if rec.Status != claim.StatusAlreadyClaimed || !strings.Contains(rec.Message, "through its parent") {
				t.Errorf("%s %s: %s %s %q", mode, rec.Host, rec.Status, rec.Category, rec.Message)
			}
		}
	}
	if got := countPUTs(t, info); got != puts {
		t.Errorf("verify and reconcile of claimed indirect nodes sent %d claim requests", got-puts)
	}
}
