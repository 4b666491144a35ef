package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// agentInfoV1 reads a lab agent's /api/v1/info on its own TCP port.
func agentInfoV1(t *testing.T, h lab.HostInfo) (names []string, labels map[string]string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/info", h.WebPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Mirrored []string          `json:"mirrored_hosts"`
		Labels   map[string]string `json:"host_labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info.Mirrored, info.Labels
}

// TestE2ENodeSettings claims a v2 and a v1 lab host with hostname,
// ephemeral and labels: both get [global] hostname (v2's claim script
// dropped -hostname=; a v1 agent sends its own name when it connects) and
// the nodes reach Cloud under those names; both get
// is ephemeral node and their labels, which the agents report after the
// restart; the user's own netdata.conf lines stay. A second run changes
// nothing; a label change alone is taken with reload-labels. plan shows
// the settings, and two hosts of one Space given one name are warned of.
func TestE2ENodeSettings(t *testing.T) {
	info := startLab(t, 2, "--personalities", "v2=1,v1=1", "--tcp-web")
	var v1, v2 lab.HostInfo
	for _, h := range info.Hosts {
		if h.Personality.Kind == lab.KindV1 {
			v1 = h
		} else {
			v2 = h
		}
	}
	set := []string{"--set", "ephemeral=yes", "--set", "labels=team=web,pool=spot (c5.large)"}
	p := fleetclaim(t, nil, append([]string{"plan", "-i", info.Inventory(), "--limit", v2.Name, "--no-progress", "--no-history", "--output", "jsonl", "--set", "hostname=renamed-web"}, set...)...)
	if rec := jsonlRecords(t, p.stdout)[v2.Name]; !strings.Contains(strings.Join(rec.Plan, "\n"), "[global] hostname = renamed-web, [global] is ephemeral node = yes, [host labels] team = web") {
		t.Errorf("plan: %q\n%s", rec.Plan, p.stderr)
	}

	r := fleetclaim(t, nil, append([]string{"claim", "-i", info.Inventory(), "--limit", v2.Name, "--no-progress", "--no-history", "--output", "jsonl", "--set", "hostname=renamed-web"}, set...)...)
	r1 := fleetclaim(t, nil, append([]string{"claim", "-i", info.Inventory(), "--limit", v1.Name, "--no-progress", "--no-history", "--output", "jsonl", "--set", "hostname=renamed-db"}, set...)...)
	if r.code != 0 || r1.code != 0 {
		t.Fatalf("claim: exit %d, %d\n%s%s\n%s%s", r.code, r1.code, r.stdout, r.stderr, r1.stdout, r1.stderr)
	}
	recs := jsonlRecords(t, r.stdout)
	for k, v := range jsonlRecords(t, r1.stdout) {
		recs[k] = v
	}
	for name, want := range map[string][]string{
		v2.Name: {"global/hostname", "global/is ephemeral node", "host labels/team", "host labels/pool"},
		v1.Name: {"global/hostname", "global/is ephemeral node", "host labels/team", "host labels/pool"},
	} {
		rec := recs[name]
		if rec.Status != claim.StatusClaimed || rec.Ephemeral == nil || !*rec.Ephemeral || !slices.Equal(rec.NetdataConf, want) {
			t.Errorf("%s: %s %q ephemeral %v changed %v", name, rec.Status, rec.Message, rec.Ephemeral, rec.NetdataConf)
		}
	}
	names := map[string]string{}
	for _, c := range mustClaims(t, info) {
		names[c.MGUID] = c.Hostname
	}
	if got := names[recs[v2.Name].MachineGUID]; got != "renamed-web" {
		t.Errorf("v2 node reached Cloud as %q, want renamed-web", got)
	}
	if got := names[recs[v1.Name].MachineGUID]; got != "renamed-db" {
		t.Errorf("v1 node reached Cloud as %q, want renamed-db (-hostname=)", got)
	}
	mirrored, labels := agentInfoV1(t, v2)
	if !slices.Equal(mirrored, []string{"renamed-web"}) || labels["_is_ephemeral"] != "true" || labels["team"] != "web" || labels["pool"] != "spot (c5.large)" {
		t.Errorf("v2 agent reports %v %v", mirrored, labels)
	}
	if mirrored, labels := agentInfoV1(t, v1); labels["team"] != "web" || !slices.Equal(mirrored, []string{"renamed-db"}) {
		t.Errorf("v1 agent reports %v %v", mirrored, labels)
	}
	nc := mustRead(t, filepath.Join(v2.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf"))
	for _, keep := range []string{"run as user = ", "default port = "} {
		if !strings.Contains(nc, keep) {
			t.Errorf("netdata.conf lost %q:\n%s", keep, nc)
		}
	}

	// Again: nothing to change.
	again := fleetclaim(t, nil, append([]string{"claim", "-i", info.Inventory(), "--limit", v2.Name, "--no-progress", "--no-history", "--output", "jsonl", "--set", "hostname=renamed-web"}, set...)...)
	if rec := jsonlRecords(t, again.stdout)[v2.Name]; rec.Status != claim.StatusAlreadyClaimed || len(rec.NetdataConf) != 0 {
		t.Errorf("second claim: %s %q changed %v", rec.Status, rec.Message, rec.NetdataConf)
	}
	// A label alone: reloaded, no restart (the agent stays online, claimed).
	rl := fleetclaim(t, nil, "reconcile", "-i", info.Inventory(), "--limit", v2.Name, "--no-progress", "--no-history", "--output", "jsonl",
		"--set", "hostname=renamed-web", "--set", "ephemeral=yes", "--set", "labels=team=db,pool=spot (c5.large)")
	if rec := jsonlRecords(t, rl.stdout)[v2.Name]; rec.Status != claim.StatusAlreadyClaimed || !slices.Equal(rec.NetdataConf, []string{"host labels/team"}) {
		t.Errorf("relabel: %s %q changed %v", rec.Status, rec.Message, rec.NetdataConf)
	}
	if _, labels := agentInfoV1(t, v2); labels["team"] != "db" {
		t.Errorf("after reload-labels the agent reports %v", labels)
	}

	// One name for two hosts of one Space: warned before any host is reached.
	w := fleetclaim(t, nil, "plan", "-i", info.Inventory(), "--no-progress", "--no-history", "--set", "hostname=same")
	if !strings.Contains(w.stderr, "hosts "+info.Hosts[0].Name+" and "+info.Hosts[1].Name+" both set hostname same") {
		t.Errorf("no duplicate name warning:\n%s", w.stderr)
	}
}
