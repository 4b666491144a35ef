package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim/cloud"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// countRuleWrites counts the lab Cloud's rule requests that change
// something (POST, PUT, DELETE).
func countRuleWrites(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(mustRead(t, filepath.Join(dir, "cloud-requests.log")), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && strings.Contains(f[2], "/node-membership-rules") && f[1] != "GET" {
			n++
		}
	}
	return n
}

// TestE2ERoomsSync: rooms plan changes nothing; rooms sync makes one rule
// per group and room; a second sync changes nothing. A node whose agent
// carries the group's label, claimed without any room, is then in the
// group's rooms by rule; one without the label is not. When the inventory
// moves a group, sync creates the new rule, reports the old one stale and
// removes it only with --prune; a rule of the user's own is never touched.
func TestE2ERoomsSync(t *testing.T) {
	info := startLab(t, 4)
	inv := filepath.Join(info.Dir, "inventory.yml")
	invText := mustRead(t, inv)

	r := fleetclaim(t, nil, "rooms", "plan", "-i", inv)
	if r.code != exitOK || !strings.Contains(r.stdout, "dry run, nothing changed: 4 to create") || countRuleWrites(t, info.Dir) != 0 {
		t.Fatalf("rooms plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = fleetclaim(t, nil, "rooms", "sync", "-i", inv)
	if r.code != exitOK || !strings.Contains(r.stdout, "4 created, 0 updated, 0 deleted, 0 kept") ||
		!strings.Contains(r.stdout, `production   create  INCLUDE fleetclaim_group equals "web"`) {
		t.Fatalf("rooms sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	writes := countRuleWrites(t, info.Dir)
	r = fleetclaim(t, nil, "rooms", "sync", "-i", inv)
	if r.code != exitOK || !strings.Contains(r.stdout, "0 created, 0 updated, 0 deleted, 4 kept") || countRuleWrites(t, info.Dir) != writes {
		t.Fatalf("second rooms sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The web hosts, claimed into no room; lab-004's agent has the label.
	labelled, bare := "lab-004", "lab-001"
	h := hostInfo(t, info, labelled)
	conf := filepath.Join(h.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n[host labels]\n    fleetclaim_group = web\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	noRooms := filepath.Join(info.Dir, "norooms.yml")
	writeTestFile(t, noRooms, regexp.MustCompile(`(?m)^ *rooms: \[production, "web servers"\].*\n`).ReplaceAllString(invText, ""))
	r = fleetclaim(t, nil, "claim", "-i", noRooms, "--limit", labelled+","+bare, "--no-progress", "--no-history")
	if r.code != exitOK {
		t.Fatalf("claim without rooms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range mustClaims(t, info) {
		if len(c.Rooms) != 0 {
			t.Fatalf("%s was claimed into rooms %v", c.Hostname, c.Rooms)
		}
	}
	results := filepath.Join(info.Dir, "results.jsonl")
	r = fleetclaim(t, nil, "verify", "-i", inv, "--limit", labelled+","+bare, "--no-progress", "--no-history", "--results", results)
	if r.code != exitFailed || !strings.Contains(r.stderr, "1/2 nodes confirmed by Cloud") {
		t.Fatalf("verify in the group's rooms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, res := range readResults(t, results) {
		confirmed := res.Cloud != nil && res.Cloud.Confirmed
		if confirmed != (res.Host == labelled) {
			t.Errorf("%s: cloud %+v", res.Host, res.Cloud)
		}
	}

	// A rule of the user's own, in the databases room.
	api, err := cloud.NewAPI(info.CloudURL, inventory.NewSecret(strings.TrimSpace(mustRead(t, info.APITokenFile()))), cloud.APIOptions{CAFile: info.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mine := cloud.MembershipRule{Action: cloud.RuleExclude, Description: "mine",
		Clauses: []cloud.RuleClause{{Label: "role", Operator: "starts_with", Value: "test"}}}
	if _, err := api.CreateMembershipRule(ctx, info.SpaceID, info.RoomID("databases"), mine); err != nil {
		t.Fatal(err)
	}
	// The db group moves from databases to staging.
	moved := filepath.Join(info.Dir, "moved.yml")
	writeTestFile(t, moved, strings.Replace(invText, "rooms: [databases]", "rooms: [staging]", 1))
	r = fleetclaim(t, nil, "rooms", "sync", "-i", moved)
	if r.code != exitOK || !strings.Contains(r.stdout, "1 created, 0 updated, 0 deleted, 3 kept, 1 stale") ||
		!strings.Contains(r.stdout, `databases    stale`) || !strings.Contains(r.stdout, "--prune removes them") {
		t.Fatalf("rooms sync after a move: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A selection syncs only its groups: --limit on the web hosts neither
	// wants nor prunes the db group's rules.
	r = fleetclaim(t, nil, "rooms", "sync", "-i", moved, "--limit", "web", "--prune")
	if r.code != exitOK || !strings.Contains(r.stdout, "0 created, 0 updated, 0 deleted, 2 kept, 0 stale") {
		t.Fatalf("rooms sync --limit web --prune: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = fleetclaim(t, nil, "rooms", "sync", "-i", moved, "--prune")
	if r.code != exitOK || !strings.Contains(r.stdout, "0 created, 0 updated, 1 deleted, 4 kept, 0 stale") {
		t.Fatalf("rooms sync --prune: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rules, err := api.MembershipRules(ctx, info.SpaceID, info.RoomID("databases"))
	if err != nil || len(rules) != 1 || rules[0].Description != "mine" || !rules[0].SameAs(mine) {
		t.Errorf("the databases room's rules: %+v %v", rules, err)
	}

	// A read-only API token, and a rule to make again (the db group's in
	// databases, pruned above): the sync fails clearly, naming the scope.
	ro := filepath.Join(info.Dir, "ro.yml")
	writeTestFile(t, ro, strings.Replace(invText, info.APITokenFile(), info.APIReadOnlyTokenFile(), 1))
	r = fleetclaim(t, nil, "rooms", "sync", "-i", ro)
	if r.code != exitFailed || !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "lacks scope") {
		t.Errorf("read-only token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
