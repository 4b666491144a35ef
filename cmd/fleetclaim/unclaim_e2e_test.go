package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/claim/cloud"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/lab"
)

// jsonlRecords parses a run's --output jsonl by host.
func jsonlRecords(t *testing.T, out string) map[string]claim.Result {
	t.Helper()
	recs := map[string]claim.Result{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec claim.Result
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("jsonl line %q: %v", line, err)
		}
		recs[rec.Host] = rec
	}
	return recs
}

// labClaimedID is the cloud.d/claimed_id of a lab host (v2: under
// opt/netdata; v1: the native layout), "" when the host has none. (The
// real v2.11.0 agent makes an empty cloud.d again at start: the claim is
// the claimed_id, not the directory.)
func labClaimedID(t *testing.T, h lab.HostInfo) string {
	t.Helper()
	for _, p := range []string{"opt/netdata/var/lib/netdata/cloud.d/claimed_id", "var/lib/netdata/cloud.d/claimed_id"} {
		if _, err := os.Lstat(filepath.Join(h.Prefix, p)); err == nil {
			return filepath.Join(h.Prefix, p)
		}
	}
	return ""
}

// roomNodeNames lists, through the lab Cloud's API, the node names a room
// shows (names, not ids: the test does not assume how Cloud's node ids
// relate to claimed ids).
func roomNodeNames(t *testing.T, info *lab.Info, room string) []string {
	t.Helper()
	tok := strings.TrimSpace(mustRead(t, info.APITokenFile()))
	api, err := cloud.NewAPI(info.CloudURL, inventory.NewSecret(tok), cloud.APIOptions{CAFile: info.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := api.RoomNodes(context.Background(), info.SpaceID, info.RoomID(room), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return names
}

// TestE2EUnclaimLab claims a lab of v2 and v1 agents, then unclaims two of
// them with --limit: plan --unclaim first changes nothing; the unclaim
// stops each agent, removes its cloud.d and claim.conf, starts it, and
// removes the node from its group's rooms in the lab Cloud, leaving it in
// the Space ("All nodes"). verify then finds the hosts not claimed, the
// other hosts untouched, and a second unclaim is already-unclaimed.
func TestE2EUnclaimLab(t *testing.T) {
	info := startLab(t, 4, "--personalities", "v2=3,v1=1")
	inv := info.Inventory()
	r := fleetclaim(t, nil, "claim", "-i", inv, "--no-progress", "--no-history", "--output", "jsonl")
	if r.code != 0 {
		t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, rec := range jsonlRecords(t, r.stdout) {
		if rec.Status != claim.StatusClaimed {
			t.Fatalf("claim %s: %s %q", name, rec.Status, rec.Message)
		}
	}
	var v1, v2 string
	for _, h := range info.Hosts {
		switch {
		case h.Personality.Kind == lab.KindV1 && v1 == "":
			v1 = h.Name
		case h.Personality.Kind == lab.KindV2 && v2 == "":
			v2 = h.Name
		}
	}
	if v1 == "" || v2 == "" {
		t.Fatalf("lab has no v1 or v2 host: %+v", info.Hosts)
	}
	targets := []string{v1, v2}
	limit := v1 + "," + v2

	// plan --unclaim: the steps, nothing changed.
	p := fleetclaim(t, nil, "plan", "--unclaim", "-i", inv, "--limit", limit, "--no-progress", "--no-history", "--output", "jsonl")
	if p.code != 0 {
		t.Fatalf("plan --unclaim: exit %d\n%s%s", p.code, p.stdout, p.stderr)
	}
	for name, rec := range jsonlRecords(t, p.stdout) {
		plan := strings.Join(rec.Plan, "\n")
		if rec.Status != claim.StatusPlanned || !strings.Contains(plan, "stop the agent") || !strings.Contains(plan, "cloud.d") ||
			!strings.Contains(plan, "claim.conf") || !strings.Contains(plan, "start the agent") || !strings.Contains(plan, "Cloud API: remove the node from rooms") {
			t.Errorf("plan --unclaim %s: %s %q", name, rec.Status, plan)
		}
	}
	for _, name := range targets {
		if labClaimedID(t, hostInfo(t, info, name)) == "" {
			t.Fatalf("%s: plan --unclaim removed the claimed id", name)
		}
	}

	// What each room lists before, by group.
	groupRooms := map[string][]string{"web": {"production", "web servers"}, "db": {"databases"}, "staging": {"staging"}}

	for _, name := range targets {
		h := hostInfo(t, info, name)
		for _, room := range groupRooms[h.Group] {
			if !slices.Contains(roomNodeNames(t, info, room), name) {
				t.Fatalf("%s: not in room %s before the unclaim", name, room)
			}
		}
	}

	u := fleetclaim(t, nil, "unclaim", "-i", inv, "--limit", limit, "--no-progress", "--no-history", "--output", "jsonl")
	if u.code != 0 {
		t.Fatalf("unclaim: exit %d\n%s%s", u.code, u.stdout, u.stderr)
	}
	recs := jsonlRecords(t, u.stdout)
	if len(recs) != 2 {
		t.Fatalf("unclaim --limit %s ran %d hosts:\n%s", limit, len(recs), u.stdout)
	}
	for _, name := range targets {
		rec := recs[name]
		if rec.Status != claim.StatusUnclaimed || !strings.Contains(rec.Message, "claimed_id") || !strings.Contains(rec.Message, "removed from rooms") {
			t.Errorf("unclaim %s: %s %q warnings %q", name, rec.Status, rec.Message, rec.Warnings)
		}
		h := hostInfo(t, info, name)
		if d := labClaimedID(t, h); d != "" {
			t.Errorf("%s: %s is still there", name, d)
		}
		for _, room := range groupRooms[h.Group] {
			if slices.Contains(roomNodeNames(t, info, room), name) {
				t.Errorf("%s: node still in room %s", name, room)
			}
		}
		if !slices.Contains(roomNodeNames(t, info, "All nodes"), name) {
			t.Errorf("%s: node left the Space's All nodes room: Cloud keeps it in the Space", name)
		}
	}

	// The agents run again, not claimed; the others are untouched.
	v := fleetclaim(t, nil, "verify", "-i", inv, "--no-progress", "--no-history", "--output", "jsonl")
	for name, rec := range jsonlRecords(t, v.stdout) {
		want := claim.StatusAlreadyClaimed
		if slices.Contains(targets, name) {
			if rec.Category != claim.CatClaimFailed || !strings.Contains(rec.Message, "not claimed") {
				t.Errorf("verify %s after unclaim: %s %s %q", name, rec.Status, rec.Category, rec.Message)
			}
			continue
		}
		if rec.Status != want {
			t.Errorf("verify %s (not unclaimed): %s %q", name, rec.Status, rec.Message)
		}
	}

	// Once more: nothing to do.
	again := fleetclaim(t, nil, "unclaim", "-i", inv, "--limit", limit, "--no-progress", "--no-history", "--output", "jsonl")
	if again.code != 0 {
		t.Fatalf("second unclaim: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	for name, rec := range jsonlRecords(t, again.stdout) {
		if rec.Status != claim.StatusAlreadyUnclaimed || len(rec.Steps) == 0 {
			t.Errorf("second unclaim %s: %s %q", name, rec.Status, rec.Message)
		}
	}
	pa := fleetclaim(t, nil, "plan", "--unclaim", "-i", inv, "--limit", limit, "--no-progress", "--no-history", "--output", "jsonl")
	for name, rec := range jsonlRecords(t, pa.stdout) {
		if rec.Status != claim.StatusAlreadyUnclaimed || !strings.Contains(strings.Join(rec.Plan, " "), "nothing to do") {
			t.Errorf("plan --unclaim %s after unclaim: %s %q", name, rec.Status, rec.Plan)
		}
	}
}

// TestE2EDecommissionExample runs examples/decommission/decommission.sh
// with the real binary: a lab is claimed (recorded in the run history),
// one host leaves the inventory, and the example unclaims that host, and
// only it, through the previous inventory. history --absent-from then lists
// nothing, and a host in neither inventory is named on stderr.
func TestE2EDecommissionExample(t *testing.T) {
	info := startLab(t, 3)
	state := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + state}
	r := fleetclaim(t, env, "claim", "-i", info.Inventory(), "--no-progress", "--output", "jsonl")
	if r.code != 0 {
		t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	gone := info.Hosts[1].Name
	var kept []string
	for _, line := range strings.SplitAfter(mustRead(t, info.Inventory()), "\n") {
		if !strings.Contains(line, gone+": {") {
			kept = append(kept, line)
		}
	}
	work := t.TempDir()
	current := filepath.Join(work, "inventory.yml")
	previous := filepath.Join(work, "inventory.previous.yml")
	if err := os.WriteFile(current, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(previous, []byte(mustRead(t, info.Inventory())), 0o644); err != nil {
		t.Fatal(err)
	}

	// The query the example makes, on its own.
	q := fleetclaim(t, env, "history", "--absent-from", current, "--listed-in", previous)
	if q.code != 0 || strings.TrimSpace(q.stdout) != gone {
		t.Fatalf("history --absent-from: exit %d %q %s", q.code, q.stdout, q.stderr)
	}

	cmd := exec.Command("sh", "../../examples/decommission/decommission.sh")
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binPath)+":"+os.Getenv("PATH"), "XDG_STATE_HOME="+state,
		"INVENTORY="+current, "PREVIOUS="+previous, "STATE="+work, "SSH_AUTH_SOCK=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("decommission.sh: %v\n%s", err, out)
	}
	recs := readResults(t, filepath.Join(work, "unclaim.jsonl"))
	if len(recs) != 1 || recs[0].Host != gone || recs[0].Status != claim.StatusUnclaimed {
		t.Fatalf("decommission unclaimed %+v\n%s", recs, out)
	}
	if d := labClaimedID(t, hostInfo(t, info, gone)); d != "" {
		t.Errorf("%s: %s is still there", gone, d)
	}
	if mustRead(t, previous) != mustRead(t, current) {
		t.Errorf("the example did not keep the inventory of this run as the previous one")
	}
	v := fleetclaim(t, env, "verify", "-i", current, "--no-progress", "--output", "jsonl")
	for name, rec := range jsonlRecords(t, v.stdout) {
		if rec.Status != claim.StatusAlreadyClaimed {
			t.Errorf("%s (still in the inventory): %s %q", name, rec.Status, rec.Message)
		}
	}
	if q := fleetclaim(t, env, "history", "--absent-from", current); q.code != 0 || q.stdout != "" {
		t.Errorf("after the decommission, history --absent-from: exit %d %q", q.code, q.stdout)
	}

	// A host gone from both inventories: not listed, named on stderr.
	other := info.Hosts[2].Name
	var fewer []string
	for _, line := range kept {
		if !strings.Contains(line, other+": {") {
			fewer = append(fewer, line)
		}
	}
	both := filepath.Join(work, "both.yml")
	os.WriteFile(both, []byte(strings.Join(fewer, "")), 0o644)
	q = fleetclaim(t, env, "history", "--absent-from", both, "--listed-in", both)
	if q.code != 0 || q.stdout != "" || !strings.Contains(q.stderr, "in neither inventory") || !strings.Contains(q.stderr, other) {
		t.Errorf("host in neither inventory: exit %d %q %q", q.code, q.stdout, q.stderr)
	}
}

// TestE2ESpotLifecycleExample runs examples/spot/lifecycle-hook.sh on a
// lab whose inventory makes the hosts ephemeral with spot labels: launch
// claims the instance with [global] is ephemeral node = yes in its
// netdata.conf, terminate unclaims it, and each hook run twice is
// idempotent.
func TestE2ESpotLifecycleExample(t *testing.T) {
	info := startLab(t, 2)
	text := mustRead(t, info.Inventory())
	text = strings.Replace(text, "defaults:\n", "defaults:\n  ephemeral: yes\n  labels: {lifecycle: spot}\n", 1)
	inv := filepath.Join(t.TempDir(), "inventory-spot.yml")
	if err := os.WriteFile(inv, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	host := info.Hosts[0]
	hook := func(event string) claim.Result {
		t.Helper()
		cmd := exec.Command("sh", "../../examples/spot/lifecycle-hook.sh", event, host.Name)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binPath)+":"+os.Getenv("PATH"), "XDG_STATE_HOME="+state,
			"INVENTORY="+inv, "STATE="+state, "SSH_AUTH_SOCK=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lifecycle-hook.sh %s: %v\n%s", event, err, out)
		}
		recs := readResults(t, filepath.Join(state, event+"-"+host.Name+".jsonl"))
		if len(recs) != 1 {
			t.Fatalf("%s: %d records\n%s", event, len(recs), out)
		}
		return recs[0]
	}
	if r := hook("launch"); r.Status != claim.StatusClaimed || r.Ephemeral == nil || !*r.Ephemeral || !slices.Contains(r.NetdataConf, "global/is ephemeral node") {
		t.Errorf("launch: %s %q ephemeral %v changed %v", r.Status, r.Message, r.Ephemeral, r.NetdataConf)
	}
	nc := mustRead(t, filepath.Join(host.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf"))
	if !strings.Contains(nc, "    is ephemeral node = yes\n") || !strings.Contains(nc, "[host labels]\n    lifecycle = spot\n") {
		t.Errorf("netdata.conf after launch:\n%s", nc)
	}
	if r := hook("launch"); r.Status != claim.StatusAlreadyClaimed || len(r.NetdataConf) != 0 {
		t.Errorf("launch again: %s %q changed %v", r.Status, r.Message, r.NetdataConf)
	}
	if r := hook("terminate"); r.Status != claim.StatusUnclaimed {
		t.Errorf("terminate: %s %q", r.Status, r.Message)
	}
	if r := hook("terminate"); r.Status != claim.StatusAlreadyUnclaimed {
		t.Errorf("terminate again: %s %q", r.Status, r.Message)
	}
}

// TestE2EUnclaimWithoutAPIToken: an inventory that gives rooms by name
// but no Cloud API token (none named, the default variable unset) still
// unclaims: the names only matter for the Cloud step, which is skipped.
// A claim with the same inventory is refused, as before.
func TestE2EUnclaimWithoutAPIToken(t *testing.T) {
	info := startLab(t, 1)
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--no-progress", "--no-history")
	if r.code != 0 {
		t.Fatalf("claim: exit %d\n%s", r.code, r.stderr)
	}
	var lines []string
	for _, l := range strings.SplitAfter(mustRead(t, info.Inventory()), "\n") {
		if !strings.Contains(l, "api_token_file:") {
			lines = append(lines, l)
		}
	}
	inv := filepath.Join(t.TempDir(), "inventory.yml")
	os.WriteFile(inv, []byte(strings.Join(lines, "")), 0o644)
	env := []string{"NETDATA_CLOUD_API_TOKEN="}
	if c := fleetclaim(t, env, "claim", "-i", inv, "--no-progress", "--no-history"); c.code != exitUsage || !strings.Contains(c.stderr, "needs a Cloud API token") {
		t.Errorf("claim without an API token: exit %d\n%s", c.code, c.stderr)
	}
	u := fleetclaim(t, env, "unclaim", "-i", inv, "--no-progress", "--no-history", "--output", "jsonl")
	rec := jsonlRecords(t, u.stdout)[info.Hosts[0].Name]
	if u.code != 0 || rec.Status != claim.StatusUnclaimed || strings.Contains(rec.Message, "rooms") {
		t.Errorf("unclaim without an API token: exit %d %s %q\n%s", u.code, rec.Status, rec.Message, u.stderr)
	}
}
