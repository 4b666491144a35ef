package remote_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
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

// TestE2ERealV2ForceReclaims: the real v2.11.0 agent, claimed, ignores
// claim.conf while it holds a claimed id (src/claim/claim.c:165-170), so
// `claim --force` reclaims it: a new claimed id the stand-in accepted,
// online.
func TestE2ERealV2ForceReclaims(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2force"})
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2force", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2force": "user: root, " + v2Line})
	first := runFleetclaim(t, bin, inv, "claim", "--wait", "30s").record(t, "v2force")
	if first.Status != "claimed" || first.ClaimedID == "" {
		t.Fatalf("claim: %+v", first)
	}
	run := runFleetclaim(t, bin, inv, "claim", "--force", "--wait", "30s")
	rec := run.record(t, "v2force")
	t.Logf("took %s: %+v", run.took, rec)
	if rec.Status != "reclaimed" || rec.ClaimedID == "" || rec.ClaimedID == first.ClaimedID || !strings.Contains(rec.Message, "--force") {
		t.Errorf("--force: %+v (first claimed id %s)\n%s", rec, first.ClaimedID, run.stderr)
	}
	checkClaimFiles(t, h, cloud)
}

// TestE2ERealV2NewIdentityRemovesRunCopy: the real v2.11.0 agent restores
// its machine GUID from a status-netdata.json copy in /run when the GUID
// file and the var lib and cache copies are gone (status-file-io.c:6-11,
// 86-95; machine-guid.c:361-371), so reclaim --new-identity removes that
// copy too and the agent comes back with a new GUID.
func TestE2ERealV2NewIdentityRemovesRunCopy(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2runcopy"})
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2runcopy", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2runcopy": "user: root, " + v2Line})
	first := runFleetclaim(t, bin, inv, "claim", "--wait", "30s").record(t, "v2runcopy")
	guid, _ := os.ReadFile(a.Lib("registry", "netdata.public.unique.id"))
	status, err := os.ReadFile(a.Lib("status-netdata.json"))
	if first.Status != "claimed" || len(guid) == 0 || err != nil || !strings.Contains(string(status), strings.TrimSpace(string(guid))) {
		t.Fatalf("claim: %+v, GUID %q, status file %v", first, guid, err)
	}
	// The copy a clone's template leaves in /run (this host's own /run).
	if err := os.WriteFile(filepath.Join(a.Dir, "run", "status-netdata.json"), status, 0o644); err != nil {
		t.Fatal(err)
	}
	run := runFleetclaim(t, bin, inv, "reclaim", "--new-identity", "--wait", "30s")
	rec := run.record(t, "v2runcopy")
	guid2, _ := os.ReadFile(a.Lib("registry", "netdata.public.unique.id"))
	t.Logf("took %s: %+v", run.took, rec)
	if rec.Status != "reclaimed" || len(guid2) == 0 || string(guid2) == string(guid) {
		t.Errorf("reclaim: %+v; machine GUID %q after --new-identity, %q before\n%s", rec, guid2, guid, run.stderr)
	}
}

// TestE2ERealV1MovedVarLibDir claims with Debian's real 1.37.1
// netdata-claim.sh (guards cut out) on a host whose netdata.conf moves the
// var lib dir ([directories] lib): the script looks for cloud.d/token
// under its compile-time /var/lib/netdata unless NETDATA_VARLIB_DIR says
// otherwise (claim/netdata-claim.sh.in:134-136, 187-190), so fleetclaim
// tells it, and the request carries the real token, not "unknown".
func TestE2ERealV1MovedVarLibDir(t *testing.T) {
	const moved = "/var/cache/netdata/movedlib"
	env := sshdtest.New(t)
	a := agenttest.NewV1(t, agenttest.V1Options{Name: "v1moved", StripGuards: true, InstallType: "binpkg-deb", Share: []string{env.Dir},
		Conf: "[global]\n    run as user = netdata\n\n[directories]\n    lib = " + moved + "\n"})
	if err := os.MkdirAll(filepath.Join(a.Dir, "cache", "movedlib", "registry"), 0o755); err != nil {
		t.Fatal(err)
	}
	guid := "5c4a7e0b-3f1d-4b8e-9a2c-1d0e6f7b8a91"
	for _, f := range []string{filepath.Join(a.Dir, "cache", "movedlib", "registry", "netdata.public.unique.id"), a.Lib("registry", "netdata.public.unique.id")} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(guid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cloud := agenttest.NewCloud(t)
	h := startSSHD(t, env, "v1moved", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v1moved": "user: root"})
	run := runFleetclaim(t, bin, inv, "claim", "--wait", "1s")
	rec := run.record(t, "v1moved")
	t.Logf("took %s: %+v", run.took, rec)
	reqs := cloud.Requests()
	if len(reqs) == 0 {
		t.Fatalf("no claim request reached the stand-in: %+v\n%s", rec, run.stderr)
	}
	for _, r := range reqs {
		if tok, _ := r.Body["token"].(string); tok != realTestToken {
			t.Errorf("claim request with token %q, want the inventory's: %+v", tok, rec)
		}
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "cache", "movedlib", "cloud.d", "claimed_id")); err != nil {
		t.Errorf("no claimed_id in the moved var lib dir: %v (%+v)", err, rec)
	}
}
