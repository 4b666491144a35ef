package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// TestE2ECloudProof claims a lab by room names, then proves through the lab
// Cloud's API that every node is listed and reachable in its rooms; a node
// whose agent never connected is not confirmed. Then: room names that do
// not resolve stop the run before any host is touched, --fix-rooms repairs
// room membership, the API's 429/5xx are retried, a refused API token is
// reported, and neither token appears in any output.
func TestE2ECloudProof(t *testing.T) {
	info := startLab(t, 7, "--personalities", "v2=6,v2+offline=1")
	inv := filepath.Join(info.Dir, "inventory.yml")
	invText := mustRead(t, inv)
	if !strings.Contains(invText, `rooms: [production, "web servers"]`) || !strings.Contains(invText, "api_token_file:") {
		t.Fatalf("lab inventory does not name rooms:\n%s", invText)
	}
	apiToken := strings.TrimSpace(mustRead(t, info.APITokenFile()))
	claimToken, _ := info.Token()
	var outputs []string
	keep := func(r runResult) runResult {
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	results := filepath.Join(info.Dir, "results.jsonl")

	// --wait bounds the offline host; the others are online and confirmed in
	// milliseconds, with room to spare on a loaded machine.
	r := keep(fleetclaim(t, nil, "claim", "-i", inv, "--wait", "3s", "--no-progress", "--no-history", "--results", results))
	if r.code != exitFailed {
		t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "6/7 nodes confirmed by Cloud") {
		t.Errorf("no Cloud summary:\n%s", r.stderr)
	}
	// A node confirmed in its own rooms needs no look at "All nodes".
	rooms := map[string][]string{"web": {"production", "web servers"}, "db": {"databases"}, "staging": {"staging"}}
	byGUIDRooms := map[string][]string{}
	for _, c := range mustClaims(t, info) {
		byGUIDRooms[c.MGUID] = c.Rooms
	}
	for _, res := range readResults(t, results) {
		h := hostInfo(t, info, res.Host)
		if h.Personality.Has(lab.FaultOffline) {
			// The agent never connected: Cloud has the claim but lists the node as unseen.
			if res.Category != claim.CatClaimedOffline || res.Cloud == nil || !res.Cloud.Listed || res.Cloud.State != "unseen" || res.Cloud.Confirmed ||
				!strings.Contains(res.Message, "unseen") {
				t.Errorf("%s (offline): %s %q cloud %+v", res.Host, res.Category, res.Message, res.Cloud)
			}
			continue
		}
		if res.Status != claim.StatusClaimed || res.Cloud == nil || !res.Cloud.Confirmed || res.Cloud.State != "reachable" ||
			!slices.Equal(res.Cloud.Rooms, rooms[h.Group]) || res.Cloud.Space != "fleetclaim lab" {
			t.Errorf("%s: %s %s cloud %+v", res.Host, res.Status, res.Message, res.Cloud)
		}
		// The names became the lab Cloud's room ids in the claim itself.
		var want []string
		for _, name := range rooms[h.Group] {
			want = append(want, info.RoomID(name))
		}
		if got := byGUIDRooms[h.MachineGUID]; !slices.Equal(got, want) {
			t.Errorf("%s claimed into %v, want %v", res.Host, got, want)
		}
	}

	// Room names that do not resolve: an inventory error, nothing contacted.
	puts := countPUTs(t, info)
	for _, tc := range []struct{ rooms, want string }{
		{"[prodution]", `no room named "prodution" in Space "fleetclaim lab"; its rooms, closest first: "production", `},
		{"[edge]", `2 rooms of Space "fleetclaim lab" are named "edge"`},
	} {
		bad := filepath.Join(info.Dir, "bad.yml")
		writeTestFile(t, bad, strings.Replace(invText, "rooms: [staging]", "rooms: "+tc.rooms, 1))
		r := keep(fleetclaim(t, nil, "claim", "-i", bad, "--no-progress", "--no-history"))
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "bad.yml:") || !strings.Contains(r.stderr, "groups.staging.rooms") ||
			!strings.Contains(r.stderr, "nothing was contacted") {
			t.Errorf("rooms %s: exit %d\n%s", tc.rooms, r.code, r.stderr)
		}
	}
	if countPUTs(t, info) != puts {
		t.Error("a claim was sent although room names did not resolve")
	}

	// --fix-rooms: staging hosts now also belong in the first "edge" room.
	var edge string
	for _, rm := range info.Rooms {
		if rm.Name == "edge" {
			edge = rm.ID
			break
		}
	}
	// The healthy staging hosts (the offline one has its own failure).
	var staging []string
	for _, h := range info.Hosts {
		if h.Group == "staging" && !h.Personality.Has(lab.FaultOffline) {
			staging = append(staging, h.Name)
		}
	}
	n := strconv.Itoa(len(staging))
	limit := strings.Join(staging, ",")
	moved := filepath.Join(info.Dir, "moved.yml")
	writeTestFile(t, moved, strings.Replace(invText, "rooms: [staging]", "rooms: [staging, "+edge+"]", 1))
	// The API answers 503 once and 429 once first: retried, not fatal.
	writeTestFile(t, filepath.Join(info.Dir, "api-faults"), "503 1\n429 1 1\n")
	r = keep(fleetclaim(t, nil, "verify", "-i", moved, "--limit", limit, "--no-progress", "--no-history", "--results", results))
	if r.code != exitFailed || !strings.Contains(r.stderr, "0/"+n+" nodes confirmed by Cloud ("+n+" claimed but missing in Cloud") {
		t.Fatalf("verify before --fix-rooms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range readResults(t, results) {
		if res.Category != claim.CatCloudMissing || !strings.Contains(res.Message, "but not in room "+edge) && !strings.Contains(res.Message, "but not in room edge") ||
			!strings.Contains(res.Remedy, "firewall") {
			t.Errorf("%s: %s %q", res.Host, res.Category, res.Message)
		}
	}
	if _, err := os.Stat(filepath.Join(info.Dir, "api-faults")); !os.IsNotExist(err) {
		t.Errorf("the API faults were not all served: %v", err)
	}
	r = keep(fleetclaim(t, nil, "reconcile", "-i", moved, "--limit", limit, "--fix-rooms", "--no-progress", "--no-history", "--results", results))
	if r.code != exitOK || !strings.Contains(r.stderr, n+"/"+n+" nodes confirmed by Cloud") {
		t.Fatalf("reconcile --fix-rooms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range readResults(t, results) {
		if res.Cloud == nil || !slices.Equal(res.Cloud.Added, []string{"edge"}) || !res.Cloud.Confirmed {
			t.Errorf("%s: cloud %+v", res.Host, res.Cloud)
		}
	}
	r = keep(fleetclaim(t, nil, "verify", "-i", moved, "--limit", limit, "--no-progress", "--no-history"))
	if r.code != exitOK || !strings.Contains(r.stderr, n+"/"+n+" nodes confirmed by Cloud") {
		t.Fatalf("verify after --fix-rooms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A refused API token stops the run before any host, with the scope message.
	writeTestFile(t, filepath.Join(info.Dir, "api-faults"), "401 *\n")
	r = keep(fleetclaim(t, nil, "verify", "-i", inv, "--no-progress", "--no-history"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "API token lacks scope") {
		t.Errorf("401: exit %d\n%s", r.code, r.stderr)
	}
	// (A 5xx for ever is given up after a bounded number of attempts: see
	// claim's TestCloudAPIErrors, which records the pauses instead of
	// sleeping through them.)
	os.Remove(filepath.Join(info.Dir, "api-faults"))

	// An inline API token is refused.
	inline := filepath.Join(info.Dir, "inline.yml")
	writeTestFile(t, inline, strings.Replace(invText, "  api_token_file: "+info.APITokenFile(), "  api_token: "+apiToken, 1))
	r = keep(fleetclaim(t, nil, "verify", "-i", inline, "--no-progress", "--no-history"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "an inline API token is not allowed") {
		t.Errorf("inline: exit %d\n%s", r.code, r.stderr)
	}

	// --fetch-claim-token: the claim token comes from the API (rotated, with a
	// warning); the inventory's own token source is not even set.
	r = keep(fleetclaim(t, nil, "reclaim", "-i", inv, "--limit", staging[0], "--fetch-claim-token", "--set", "token_env=FLEETCLAIM_NO_SUCH_TOKEN",
		"--no-progress", "--no-history", "--results", results))
	newToken, _ := info.Token()
	if r.code != exitOK || !strings.Contains(r.stderr, "the old token stops working NOW for every other") || newToken == claimToken ||
		!strings.Contains(r.stderr, "1/1 nodes confirmed by Cloud") {
		t.Errorf("--fetch-claim-token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = keep(fleetclaim(t, nil, "claim", "-i", inv, "--limit", staging[0], "--token-file", info.APITokenFile(), "--fetch-claim-token", "--no-progress", "--no-history"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "exclude each other") {
		t.Errorf("--fetch-claim-token with --token-file: exit %d\n%s", r.code, r.stderr)
	}

	outputs = append(outputs, mustRead(t, results))
	for _, out := range outputs {
		for name, secret := range map[string]string{"API token": apiToken, "claim token": claimToken, "fetched claim token": newToken} {
			if secret != "" && strings.Contains(out, secret) {
				t.Errorf("%s in output:\n%s", name, out)
			}
		}
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustClaims(t *testing.T, info *lab.Info) []lab.Claim {
	t.Helper()
	cl, err := info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func hostInfo(t *testing.T, info *lab.Info, name string) lab.HostInfo {
	t.Helper()
	for _, h := range info.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no lab host %s", name)
	return lab.HostInfo{}
}
