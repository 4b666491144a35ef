package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// TestE2EClaimScriptV1 claims v1 agents with their netdata-claim.sh: the
// node id the lab Cloud records is the machine GUID, the rooms are the
// group's, failures get the category of the script's exit code, and
// cloud.d/token is gone afterwards whatever the outcome. A reclaim with
// --new-identity gives a node a fresh id.
func TestE2EClaimScriptV1(t *testing.T) {
	info := startLab(t, 6, "--personalities", "v1=4,v1+cloud-403=1,v1+cloud-422=1")
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(t.TempDir(), "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--results", results, "--wait", "20s")
	if r.code == 0 {
		t.Fatalf("claim with two failing hosts exited 0\n%s", r.stderr)
	}
	claims, err := info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byHost := map[string]lab.Claim{}
	for _, c := range claims {
		byHost[c.Hostname] = c
	}
	recs := map[string]claim.Result{}
	for _, rec := range readResults(t, results) {
		recs[rec.Host] = rec
	}
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	var healthy string
	for _, h := range info.Hosts {
		rec := recs[h.Name]
		if rec.Method != claim.MethodClaimScript {
			t.Errorf("%s: method %q, want claim-script", h.Name, rec.Method)
		}
		var want claim.Category
		switch {
		case h.Personality.Has(lab.FaultCloud403):
			want = claim.CatTokenRejected
		case h.Personality.Has(lab.FaultCloud422):
			want = claim.CatRoomInvalid
		}
		if want != "" {
			if rec.Status != claim.StatusFailed || rec.Category != want || rec.Remedy == "" {
				t.Errorf("%s (%s): %s [%s] %s, want failed [%s]", h.Name, h.Personality, rec.Status, rec.Category, rec.Message, want)
			}
			if _, ok := byHost[h.Name]; ok {
				t.Errorf("%s: the lab Cloud has a claim for a refused host", h.Name)
			}
		} else {
			c, ok := byHost[h.Name]
			if !ok || rec.Status != claim.StatusClaimed {
				t.Errorf("%s: %s [%s] %s; Cloud claim found: %v", h.Name, rec.Status, rec.Category, rec.Message, ok)
				continue
			}
			if c.NodeID != h.MachineGUID || rec.ClaimedID != c.NodeID || c.MGUID != h.MachineGUID {
				t.Errorf("%s: Cloud node %s (mGUID %s), record %s, machine GUID %s: a v1 node id is its machine GUID", h.Name, c.NodeID, c.MGUID, rec.ClaimedID, h.MachineGUID)
			}
			if len(c.Rooms) != len(rec.Rooms) || !sameSet(c.Rooms, rec.Rooms) {
				t.Errorf("%s: claimed into %v, want %v", h.Name, c.Rooms, rec.Rooms)
			}
			if rec.Troubleshooting == nil || rec.Troubleshooting.AgentClaimed == nil || !*rec.Troubleshooting.AgentClaimed {
				t.Errorf("%s: troubleshooting keys not recorded: %+v", h.Name, rec.Troubleshooting)
			}
			healthy = h.Name
		}
		tok := filepath.Join(h.Prefix, "opt/netdata/var/lib/netdata/cloud.d/token")
		if _, err := os.Stat(tok); !os.IsNotExist(err) {
			t.Errorf("%s: %s still exists after the claim (%v)", h.Name, tok, err)
		}
	}
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "results": mustRead(t, results)} {
		if strings.Contains(text, token) {
			t.Errorf("the claim token appears in %s", name)
		}
	}
	if healthy == "" {
		t.Fatal("no healthy v1 host")
	}

	// A cloned v1 machine gets its own node: -id= with a new uuid.
	r = fleetclaim(t, nil, "reclaim", "-i", info.Inventory(), "--limit", healthy, "--new-identity", "--output", "jsonl", "--wait", "20s")
	if r.code != 0 {
		t.Fatalf("reclaim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	claims, err = info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var guid string
	for _, h := range info.Hosts {
		if h.Name == healthy {
			guid = h.MachineGUID
		}
	}
	// A node of its own: a new claimed id and a new machine GUID (the
	// reset removed the GUID file, which netdata-claim.sh sends as mGUID
	// whatever -id= says: v1.37.1 claim/netdata-claim.sh.in:171-174, 281).
	// The clone's old node stays in Cloud, as it would.
	own := false
	for _, c := range claims {
		if c.Hostname == healthy && c.NodeID != guid && c.MGUID != guid {
			own = true
		}
	}
	if !own {
		t.Errorf("%s: no claim with a new id and a new machine GUID after --new-identity (old GUID %s): %+v", healthy, guid, claims)
	}
	if !strings.Contains(r.stdout, `"status":"reclaimed"`) {
		t.Errorf("reclaim output: %s", r.stdout)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// TestE2EClaimScriptV1TimeoutRemovesToken: a v1 claim whose
// netdata-claim.sh hangs is cut off by --timeout, recorded as a timeout,
// and leaves neither cloud.d/token nor a temporary directory on the host.
func TestE2EClaimScriptV1TimeoutRemovesToken(t *testing.T) {
	info := startLab(t, 2, "--personalities", "v1+claim-hang=2")
	results := filepath.Join(t.TempDir(), "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--results", results, "--timeout", "3s", "--no-history")
	if r.code == 0 {
		t.Fatalf("claim of hanging hosts exited 0\n%s", r.stderr)
	}
	recs := readResults(t, results)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, rec := range recs {
		if rec.Status != claim.StatusFailed || rec.Category != claim.CatTimeout || rec.Method != claim.MethodClaimScript {
			t.Errorf("%s: %s [%s] %s (method %s), want failed [%s]", rec.Host, rec.Status, rec.Category, rec.Message, rec.Method, claim.CatTimeout)
		}
	}
	for _, h := range info.Hosts {
		tok := filepath.Join(h.Prefix, "opt/netdata/var/lib/netdata/cloud.d/token")
		if _, err := os.Lstat(tok); !os.IsNotExist(err) {
			t.Errorf("%s: %s left behind by the cut-off claim (%v)", h.Name, tok, err)
		}
		filepath.WalkDir(h.Prefix, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".fleetclaim") {
				t.Errorf("%s: leftover temporary file %s", h.Name, p)
			}
			return nil
		})
	}
}
