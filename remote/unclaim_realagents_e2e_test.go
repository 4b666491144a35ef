package remote_test

import (
	"os"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// gone fails t when any of paths is still there.
func gone(t *testing.T, host string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %s is still there after unclaim (%v)", host, p, err)
		}
	}
}

// TestE2ERealV2Unclaim claims the real v2.11.0 agent as root over real
// sshd, then unclaims it: plan --unclaim first changes nothing; the
// unclaim stops the agent through its init script, removes cloud.d and
// claim.conf and starts it again, and the agent itself then reports it is
// not claimed. A second unclaim is already-unclaimed.
func TestE2ERealV2Unclaim(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2unclaim"})
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2unclaim", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2unclaim": "user: root, " + v2Line})
	if rec := runFleetclaim(t, bin, inv, "claim", "--wait", "30s").record(t, "v2unclaim"); rec.Status != "claimed" {
		t.Fatalf("claim: %+v", rec)
	}
	plan := runFleetclaim(t, bin, inv, "plan", "--unclaim").record(t, "v2unclaim")
	if p := strings.Join(plan.Plan, "\n"); plan.Status != "planned" || !strings.Contains(p, "stop the agent (") || !strings.Contains(p, "start the agent (") {
		t.Errorf("plan --unclaim: %+v", plan)
	}
	if _, err := os.Stat(a.Lib("cloud.d", "claimed_id")); err != nil {
		t.Fatalf("plan --unclaim changed the host: %v", err)
	}

	run := runFleetclaim(t, bin, inv, "unclaim")
	rec := run.record(t, "v2unclaim")
	t.Logf("unclaim took %s: %+v", run.took, rec)
	if rec.Status != "unclaimed" || !strings.Contains(rec.Message, "claimed_id") || !strings.Contains(rec.Message, "claim.conf") {
		t.Errorf("unclaim: %+v\n%s", rec, run.stderr)
	}
	// The agent makes cloud.d again at start; its claim does not come back.
	gone(t, "v2unclaim", a.Lib("cloud.d", "claimed_id"), a.Etc("claim.conf"))
	// (lab/testdata/v2.11.0-cloudd-after-unclaim.txt records this; the lab
	// agent does the same.)
	ents, err := os.ReadDir(a.Lib("cloud.d"))
	if err != nil || len(ents) != 0 {
		t.Errorf("cloud.d after the agent's start: %v %v, want an empty directory", ents, err)
	}
	// The agent runs again, unclaimed, as it says itself.
	a.WaitReady(t)
	st := a.Run(t, a.CLI, "aclk-state", "json")
	if st.Code != 0 || !strings.Contains(st.Stdout, `"agent-claimed":false`) {
		t.Errorf("after unclaim, aclk-state json: exit %d %s%s", st.Code, st.Stdout, st.Stderr)
	}

	again := runFleetclaim(t, bin, inv, "unclaim").record(t, "v2unclaim")
	if again.Status != "already-unclaimed" {
		t.Errorf("second unclaim: %+v", again)
	}
}

// TestE2ERealV1Unclaim claims with Debian's 1.37.1 netdata-claim.sh (its
// guards cut out) as root over real sshd, then unclaims: cloud.d (the
// claimed id and the key pair the real script made) is removed; the agent,
// which the Debian build cannot keep linked and which is not running, is
// left stopped (netdatacli finds no agent: exit 255). A second unclaim is
// already-unclaimed.
func TestE2ERealV1Unclaim(t *testing.T) {
	env := sshdtest.New(t)
	a := realV1Host(t, env, "v1unclaim")
	cloud := agenttest.NewCloud(t)
	h := startSSHD(t, env, "v1unclaim", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v1unclaim": "user: root"})
	runFleetclaim(t, bin, inv, "claim", "--wait", "1s")
	if _, err := os.Stat(a.Lib("cloud.d", "claimed_id")); err != nil {
		t.Fatalf("the real v1 claim left no claimed_id: %v", err)
	}
	run := runFleetclaim(t, bin, inv, "unclaim")
	rec := run.record(t, "v1unclaim")
	t.Logf("unclaim took %s: %+v", run.took, rec)
	if rec.Status != "unclaimed" || !strings.Contains(rec.Message, "claimed_id") {
		t.Errorf("unclaim: %+v\n%s", rec, run.stderr)
	}
	gone(t, "v1unclaim", a.Lib("cloud.d"))
	if _, err := os.Stat(a.PIDFile()); err == nil {
		t.Errorf("unclaim started an agent that was not running")
	}
	again := runFleetclaim(t, bin, inv, "unclaim").record(t, "v1unclaim")
	if again.Status != "already-unclaimed" {
		t.Errorf("second unclaim: %+v", again)
	}
}
