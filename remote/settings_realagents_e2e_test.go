package remote_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// realInfoV1 reads the real agent's /api/v1/info: its host name as it
// mirrors it, and its host labels (src/web/api/v1/api_v1_info.c:132,
// v2.11.0).
func realInfoV1(t *testing.T, a *agenttest.Host) ([]string, map[string]string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/info", a.Port))
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

// TestE2ERealV2NodeSettings claims the real v2.11.0 agent with hostname,
// ephemeral and labels over real sshd: netdata.conf gets [global]
// hostname and is ephemeral node and [host labels], the agent restarts,
// sends its claim under the new name and reports _is_ephemeral=true and
// the labels. A label change is then taken by netdatacli reload-labels,
// the agent not restarted (same pid).
func TestE2ERealV2NodeSettings(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2settings"})
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2settings", a)
	bin := buildFleetclaim(t)
	line := "user: root, " + v2Line + ", hostname: renamed-v2, ephemeral: yes, labels: {team: web, pool: spot-c5}"
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2settings": line})
	run := runFleetclaim(t, bin, inv, "claim", "--wait", "30s")
	rec := run.record(t, "v2settings")
	t.Logf("claim took %s: %+v", run.took, rec)
	if rec.Status != "claimed" {
		t.Fatalf("claim: %+v\n%s", rec, run.stderr)
	}
	named := false
	for _, r := range cloud.Requests() {
		if node, ok := r.Body["node"].(map[string]any); ok && r.Method == "PUT" && node["hostname"] == "renamed-v2" {
			named = true
		}
	}
	if !named {
		t.Errorf("no claim request named the node renamed-v2: %+v", cloud.Requests())
	}
	mirrored, labels := realInfoV1(t, a)
	t.Logf("agent: mirrored_hosts %v host_labels %v", mirrored, labels)
	if len(mirrored) == 0 || mirrored[0] != "renamed-v2" || labels["_is_ephemeral"] != "true" || labels["team"] != "web" || labels["pool"] != "spot-c5" {
		t.Errorf("the real agent reports %v %v", mirrored, labels)
	}

	pid := a.PID()
	inv = writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2settings": strings.Replace(line, "team: web", "team: db", 1)})
	again := runFleetclaim(t, bin, inv, "reconcile", "--wait", "30s")
	rec = again.record(t, "v2settings")
	if rec.Status != "already-claimed" || !strings.Contains(again.stdout, `"netdata_conf_changed": [`) || !strings.Contains(again.stdout, `"host labels/team"`) {
		t.Errorf("relabel: %+v\n%s", rec, again.stdout)
	}
	if _, labels := realInfoV1(t, a); labels["team"] != "db" {
		t.Errorf("after reload-labels the real agent reports %v", labels)
	}
	if a.PID() != pid {
		t.Errorf("a label change restarted the agent (pid %d, then %d)", pid, a.PID())
	}
}
