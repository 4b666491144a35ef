package remote_test

import (
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/remote/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/remote/internal/sshdtest"
)

// TestE2ERealV2ClaimStartsStoppedAgent claims the real v2.11.0 agent while
// it is stopped, as root over real sshd: fleetclaim writes claim.conf,
// finds it not running (netdatacli exits 255), starts it through the
// host's init script (the static install's LSB script) and says so, waits
// for `netdatacli ping` to exit 0 (1 while it initializes: commands.c:72
// v2.11.0) and then reads its state; the agent claims from claim.conf at
// start and comes online through the stand-in's link.
func TestE2ERealV2ClaimStartsStoppedAgent(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2stopped", NoStart: true})
	t.Cleanup(func() { a.Stop(t) })
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2stopped", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2stopped": "user: root, " + v2Line})
	run := runFleetclaim(t, bin, inv, "claim", "--wait", "30s")
	rec := run.record(t, "v2stopped")
	t.Logf("took %s: %+v", run.took, rec)
	if rec.Status != "claimed" || !strings.Contains(strings.Join(rec.Plan, "\n"), "started the agent, which was not running") {
		t.Errorf("record %+v\n%s", rec, run.stderr)
	}
	if a.PID() == 0 {
		t.Error("the agent is not running after the claim")
	}
	checkClaimFiles(t, h, cloud)
}
