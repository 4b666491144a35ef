package remote_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetclaim/fleetclaim/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// becomeRow is one way of logging in and becoming privileged.
type becomeRow struct {
	name string
	// user logs in; inv is the rest of the host's inventory line.
	user, inv string
	// runAs: the claim runs as the agent's run-as user, not root.
	runAs bool
	// none: the user has no way to claim (no-privilege).
	none bool
}

// becomeRows are the login kinds of a fleet (Ansible's become).
var becomeRows = []becomeRow{
	{name: "root", user: "root"},
	{name: "sudo", user: sshdtest.UserSudo, inv: "become: sudo"},
	{name: "sudopw", user: sshdtest.UserSudoPassword, inv: "become: sudo, sudo_password_file: @SUDO_PASSWORD_FILE@"},
	{name: "tty", user: sshdtest.UserTTY, inv: "become: sudo"},
	{name: "doas", user: sshdtest.UserDoas, inv: "become: doas"},
	{name: "runas", user: "netdata", runAs: true},
	{name: "becomeuser", user: sshdtest.UserSudo, inv: "become: sudo, become_user: netdata", runAs: true},
	{name: "plain", user: sshdtest.UserNoSudo, none: true},
}

// TestE2EBecomeMatrix claims real agents over real sshd with every login
// kind of becomeRows, for both claim generations: v1 with Debian's real
// netdata-claim.sh (its two "no Cloud" guards cut out), v2 with the real
// v2.11.0 agent (claim.conf). A row passes when the stand-in Cloud accepted
// the claim that the agent (v2) or the script (v1) sent for that host, and
// the files on the host have the agent's owners and modes; a user with no
// privilege gets no-privilege and no claim.
//
// A v2 row ends `claimed`: the agent comes online through the stand-in's
// link. A v1 row cannot: Debian's v1 binary, built without Cloud, cannot
// run a link at all, so it ends agent-not-running after the script's exit
// 5 (claimed, agent not told), which fleetclaim answers by trying to
// start it.
//
// v2 as the run-as user: the static install's config dir is root's (Netdata's
// packaging/makeself/install-or-update.sh at v2.11.0 chowns only the var,
// log and plugin files to the agent's user), so the run-as user cannot write
// claim.conf, which is root:netdata 0640; fleetclaim must say so
// (no-privilege, with its remedy), not report a full disk.
func TestE2EBecomeMatrix(t *testing.T) {
	agenttest.RequireV1(t)
	agenttest.RequireV2(t)
	env := sshdtest.New(t)
	env.Doas(t)
	authorizeRunAsUser(t, env)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	bin := buildFleetclaim(t)
	for _, gen := range []int{1, 2} {
		t.Run("v"+string(rune('0'+gen)), func(t *testing.T) {
			hosts := makeRowHosts(t, env, gen)
			rows := becomeRows
			run := runRows(t, bin, env, cloud, rows, hosts)
			if strings.Contains(run.stderr, "become_user: unknown key") {
				// This fleetclaim has no become_user: the row fails, the
				// others run without it.
				t.Errorf("becomeuser: the inventory key become_user is unknown to fleetclaim")
				rows, hosts = withoutRow(rows, hosts, "becomeuser")
				run = runRows(t, bin, env, cloud, rows, hosts)
			}
			t.Logf("v%d: %d hosts in %s", gen, len(hosts), run.took)
			for i, r := range rows {
				h := hosts[i]
				rec := run.record(t, h.name)
				t.Run(r.name, func(t *testing.T) {
					checkRow(t, gen, r, h, rec, cloud)
					// What ran, and as whom (shown with -v, and on failure).
					t.Logf("record: %+v\nfleetclaim --debug:\n%s", rec, clipLog(run.stderr, h.name))
				})
			}
		})
	}
}

// withoutRow drops the row name and its host.
func withoutRow(rows []becomeRow, hosts []realHost, name string) ([]becomeRow, []realHost) {
	var r2 []becomeRow
	var h2 []realHost
	for i, r := range rows {
		if r.name != name {
			r2, h2 = append(r2, r), append(h2, hosts[i])
		}
	}
	return r2, h2
}

// runRows runs one fleetclaim claim over the hosts of rows.
func runRows(t *testing.T, bin string, env *sshdtest.Env, cloud *agenttest.Cloud, rows []becomeRow, hosts []realHost) fleetRun {
	t.Helper()
	lines := map[string]string{}
	for i, r := range rows {
		lines[hosts[i].name] = "user: " + r.user
		if r.inv != "" {
			lines[hosts[i].name] += ", " + r.inv
		}
		if hosts[i].agent.Gen == 2 {
			lines[hosts[i].name] += ", " + v2Line
		}
	}
	inv := writeInventory(t, env, cloud, hosts, lines)
	return runFleetclaimRaw(t, bin, inv, "claim", "--wait", "30s", "--debug")
}

func checkRow(t *testing.T, gen int, r becomeRow, h realHost, rec realRecord, cloud *agenttest.Cloud) {
	t.Helper()
	switch {
	case r.none || gen == 2 && r.runAs:
		if rec.Category != "no-privilege" {
			t.Errorf("%s: %s %s: %s, want no-privilege", h.name, rec.Status, rec.Category, rec.Message)
		}
		if _, err := os.Stat(h.agent.Lib("cloud.d", "claimed_id")); err == nil {
			t.Errorf("%s: claimed although it should not", h.name)
		}
		return
	case gen == 2:
		if rec.Method != "claim-conf" || rec.Status != "claimed" {
			t.Errorf("%s: %s %s %s: %s, want claim-conf claimed", h.name, rec.Method, rec.Status, rec.Category, rec.Message)
		}
	default:
		if rec.Method != "claim-script" || rec.Category != "agent-not-running" {
			t.Errorf("%s: %s %s %s: %s, want claim-script agent-not-running", h.name, rec.Method, rec.Status, rec.Category, rec.Message)
		}
	}
	checkClaimFiles(t, h, cloud)
}

// makeRowHosts starts a host and its sshd per row of becomeRows; the v2
// agents start together and are waited for together.
func makeRowHosts(t *testing.T, env *sshdtest.Env, gen int) []realHost {
	t.Helper()
	hosts := make([]realHost, len(becomeRows))
	for i, r := range becomeRows {
		name := "v" + string(rune('0'+gen)) + "-" + r.name
		var a *agenttest.Host
		if gen == 1 {
			a = realV1Host(t, env, name)
		} else {
			a = agenttest.NewV2(t, agenttest.V2Options{Name: name, NoStart: true})
			a.Start(t)
		}
		hosts[i] = startSSHD(t, env, name, a)
	}
	if gen == 2 {
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Add(1)
			go func() { defer wg.Done(); h.agent.WaitReady(t) }()
		}
		wg.Wait()
	}
	return hosts
}

// authorizeRunAsUser lets the agent's run-as user (netdata, whose shell
// Debian's package sets to /bin/sh) log in with the test key.
func authorizeRunAsUser(t *testing.T, env *sshdtest.Env) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Dir, "authorized_keys", "root"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(env.Dir, "authorized_keys", "netdata"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clipLog keeps the debug lines that name host.
func clipLog(s, host string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, host) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
