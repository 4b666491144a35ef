package remote_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// Real-agent end-to-end tests: the real fleetclaim binary, over real
// OpenSSH, against the real Netdata agents of internal/agenttest
// (Debian's 1.37.1 package and the v2.11.0 agent), each agent on a host of
// its own whose sshd runs inside the host's mount namespace. A stand-in
// Cloud (agenttest.Cloud) records the claim requests and serves the
// Agent-Cloud Link, so a claimed v2 agent comes online. The inventory names
// the stand-in's CA (ca_file), which both generations use for the claim
// request; v2 hosts also say insecure, since the agent checks the link's
// certificate against the system store (v2Line). Debian's v1 binary, built without Cloud, cannot link: a
// v1 claim that Cloud accepted ends with the files written and the agent
// not running.
// (They live here because only package remote may use the harnesses.)

// realTestToken is the claim token of these tests.
const realTestToken = "real-agent-test-token-8c1f"

// v2Line is what a v2 host's inventory line adds: the agent's link to the
// stand-in takes a self-signed certificate only with insecure = yes
// (aclk.c:746 at v2.11.0).
const v2Line = "insecure: true"

// realTestRoom is the room id of these tests.
const realTestRoom = "3b0d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11"

// buildFleetclaim builds the fleetclaim binary into a temporary directory.
func buildFleetclaim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fleetclaim")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/fleetclaim").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// realRecord is the part of a claim record these tests read.
type realRecord struct {
	Host, Status, Category, Message, Method string
	ClaimedID                               string `json:"claimed_id"`
	RunAsUser                               string `json:"run_as_user"`
	AgentVersion                            string `json:"agent_version"`
	Plan                                    []string
}

// fleetRun is one run of fleetclaim over an inventory.
type fleetRun struct {
	recs           []realRecord
	stdout, stderr string
	took           time.Duration
}

// runFleetclaim runs `fleetclaim args... -i inv --output json` and reads its
// records.
func runFleetclaim(t *testing.T, bin, inv string, args ...string) fleetRun {
	t.Helper()
	return runFleetclaimMode(t, false, bin, inv, args...)
}

// runFleetclaimRaw is runFleetclaim that leaves output that is not JSON
// (an inventory error) to the caller.
func runFleetclaimRaw(t *testing.T, bin, inv string, args ...string) fleetRun {
	t.Helper()
	return runFleetclaimMode(t, true, bin, inv, args...)
}

func runFleetclaimMode(t *testing.T, raw bool, bin, inv string, args ...string) fleetRun {
	t.Helper()
	args = append(args, "-i", inv, "--output", "json")
	x := exec.Command(bin, args...)
	x.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	var out, errb bytes.Buffer
	x.Stdout, x.Stderr = &out, &errb
	start := time.Now()
	x.Run()
	r := fleetRun{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if err := json.Unmarshal(out.Bytes(), &r.recs); err != nil && !raw {
		t.Fatalf("fleetclaim %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return r
}

func (r fleetRun) record(t *testing.T, host string) realRecord {
	t.Helper()
	for _, rec := range r.recs {
		if rec.Host == host {
			return rec
		}
	}
	t.Fatalf("no record for %s in\n%s", host, r.stdout)
	return realRecord{}
}

// realHost is an agent host with its sshd.
type realHost struct {
	name  string
	agent *agenttest.Host
	sshd  *sshdtest.Server
}

func startSSHD(t *testing.T, env *sshdtest.Env, name string, a *agenttest.Host) realHost {
	t.Helper()
	s := env.Start(t, sshdtest.Options{Name: name, Prefix: a.Prefix()})
	return realHost{name: name, agent: a, sshd: s}
}

// writeInventory writes an inventory of hosts (YAML lines of a `hosts:`
// map, without their address and port) for the stand-in Cloud.
func writeInventory(t *testing.T, env *sshdtest.Env, cloud *agenttest.Cloud, hosts []realHost, lines map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var kh []string
	var hb strings.Builder
	for _, h := range hosts {
		kh = append(kh, h.sshd.KnownHostsLine(t, "ed25519"))
		fmt.Fprintf(&hb, "      %s: {address: %s, port: %d, %s}\n", h.name, h.sshd.Host, h.sshd.Port, lines[h.name])
	}
	khf := env.WriteKnownHosts(t, false, kh...)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte(realTestToken+"\n"), 0o600)
	pw := filepath.Join(dir, "sudo-password")
	os.WriteFile(pw, []byte(sshdtest.SudoPassword+"\n"), 0o600)
	inv := filepath.Join(dir, "inventory.yml")
	body := fmt.Sprintf(`defaults:
  identity_files: [%s]
  known_hosts: [%s]
  url: %s
  ca_file: %s
  token_file: %s
groups:
  real:
    rooms: [%s]
    hosts:
%s`, env.Key, khf, cloud.URL, cloud.CAFile, tok, realTestRoom, hb.String())
	body = strings.ReplaceAll(body, "@SUDO_PASSWORD_FILE@", pw)
	if err := os.WriteFile(inv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return inv
}

// checkClaimFiles checks the files a claim leaves on a host: cloud.d owned
// by the agent's run-as user, holding the claimed id Cloud accepted; for a
// v2 agent claim.conf root:netdata 0640; for v1 no token left behind.
func checkClaimFiles(t *testing.T, h realHost, cloud *agenttest.Cloud) {
	t.Helper()
	a := h.agent
	st, err := os.Stat(a.Lib("cloud.d"))
	if err != nil {
		t.Errorf("%s: %v", h.name, err)
		return
	}
	if u := owner(st); u != "netdata" {
		t.Errorf("%s: cloud.d owned by %s, want netdata", h.name, u)
	}
	id, err := os.ReadFile(a.Lib("cloud.d", "claimed_id"))
	if err != nil {
		t.Errorf("%s: no claimed_id: %v", h.name, err)
	} else if !accepted(cloud, strings.TrimSpace(string(id))) {
		t.Errorf("%s: claimed_id %q was not accepted by the stand-in Cloud: %+v", h.name, id, cloud.Requests())
	}
	if a.Gen == 2 {
		st, err := os.Stat(a.Etc("claim.conf"))
		if err != nil {
			t.Errorf("%s: %v", h.name, err)
			return
		}
		if u, g := owner(st), group(st); u != "root" || g != "netdata" || st.Mode().Perm() != 0o640 {
			t.Errorf("%s: claim.conf %s:%s %o, want root:netdata 0640", h.name, u, g, st.Mode().Perm())
		}
	} else if _, err := os.Lstat(a.Lib("cloud.d", "token")); err == nil {
		t.Errorf("%s: cloud.d/token left behind", h.name)
	}
}

// accepted reports whether the stand-in answered 204 to a claim of id with
// the test's token and room.
func accepted(cloud *agenttest.Cloud, id string) bool {
	for _, r := range cloud.Requests() {
		if r.Method == "PUT" && r.Status == 204 && r.Path == "/api/v1/spaces/nodes/"+id && r.Body["token"] == realTestToken &&
			fmt.Sprint(r.Body["rooms"]) == "["+realTestRoom+"]" {
			return true
		}
	}
	return false
}

func owner(st os.FileInfo) string {
	return lookupName("passwd", st.Sys().(*syscall.Stat_t).Uid)
}

func group(st os.FileInfo) string {
	return lookupName("group", st.Sys().(*syscall.Stat_t).Gid)
}

func lookupName(db string, id uint32) string {
	out, err := exec.Command("getent", db, fmt.Sprint(id)).Output()
	if err != nil {
		return fmt.Sprint(id)
	}
	n, _, _ := strings.Cut(string(out), ":")
	return n
}

// TestE2ERealV2ClaimAsRoot claims the real v2.11.0 agent as root over real
// sshd: claim.conf written, the agent's own claim request accepted by the
// stand-in Cloud, the agent online through the stand-in's link, and its
// files in place.
func TestE2ERealV2ClaimAsRoot(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2root"})
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2root", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2root": "user: root, " + v2Line})
	run := runFleetclaim(t, bin, inv, "claim", "--wait", "30s")
	rec := run.record(t, "v2root")
	t.Logf("took %s: %+v", run.took, rec)
	if rec.Method != "claim-conf" || rec.AgentVersion != agenttest.V2Version || rec.Status != "claimed" || cloud.LinkConnections() == 0 {
		t.Errorf("record %+v\n%s", rec, run.stderr)
	}
	checkClaimFiles(t, h, cloud)
}

// realV1Host is a v1 host that fleetclaim may claim: Debian's 1.37.1
// package with the real netdata-claim.sh, its two "no Cloud" guards cut out
// at test time. Its .install-type says binpkg-deb, as Netdata's own Debian
// packages write it (packaging/installer/functions.sh at v1.37.1 writes
// INSTALL_TYPE for every package it builds), so the probe takes it for a
// build with Cloud without asking the binary, which (Debian's build) says it
// has none. The agent does not run: the Debian binary cannot link to Cloud.
// env's directory (its sshd's files) stays visible in the host.
func realV1Host(t *testing.T, env *sshdtest.Env, name string) *agenttest.Host {
	return agenttest.NewV1(t, agenttest.V1Options{Name: name, StripGuards: true, InstallType: "binpkg-deb", Share: []string{env.Dir}})
}

// TestE2ERealV1ClaimAsRoot claims with Debian's real netdata-claim.sh
// (guards cut out) as root over real sshd: the script's own request is
// accepted by the stand-in Cloud, and cloud.d is the agent's.
func TestE2ERealV1ClaimAsRoot(t *testing.T) {
	env := sshdtest.New(t)
	a := realV1Host(t, env, "v1root")
	cloud := agenttest.NewCloud(t)
	h := startSSHD(t, env, "v1root", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v1root": "user: root"})
	run := runFleetclaim(t, bin, inv, "claim", "--wait", "1s")
	rec := run.record(t, "v1root")
	t.Logf("took %s: %+v", run.took, rec)
	if rec.Method != "claim-script" || rec.Category != "agent-not-running" {
		t.Errorf("record %+v\n%s", rec, run.stderr)
	}
	checkClaimFiles(t, h, cloud)
}

// TestE2ERealV2ReclaimNewIdentity claims the real v2.11.0 agent as root
// over real sshd, then reclaims it with --new-identity: the agent, stopped
// and started through its host's init script (the static install's LSB
// script), comes back with a new machine GUID and a new claimed id that
// the stand-in accepted, online.
func TestE2ERealV2ReclaimNewIdentity(t *testing.T) {
	a := agenttest.NewV2(t, agenttest.V2Options{Name: "v2reclaim"})
	env := sshdtest.New(t)
	cloud := agenttest.NewCloud(t)
	cloud.ServeLink()
	h := startSSHD(t, env, "v2reclaim", a)
	bin := buildFleetclaim(t)
	inv := writeInventory(t, env, cloud, []realHost{h}, map[string]string{"v2reclaim": "user: root, " + v2Line})
	first := runFleetclaim(t, bin, inv, "claim", "--wait", "30s").record(t, "v2reclaim")
	guid, _ := os.ReadFile(a.Lib("registry", "netdata.public.unique.id"))
	if first.Status != "claimed" || first.ClaimedID == "" || len(guid) == 0 {
		t.Fatalf("claim: %+v", first)
	}
	run := runFleetclaim(t, bin, inv, "reclaim", "--new-identity", "--wait", "30s")
	rec := run.record(t, "v2reclaim")
	t.Logf("reclaim took %s: %+v", run.took, rec)
	guid2, _ := os.ReadFile(a.Lib("registry", "netdata.public.unique.id"))
	if rec.Status != "reclaimed" || rec.ClaimedID == "" || rec.ClaimedID == first.ClaimedID {
		t.Errorf("reclaim: %+v (first claimed id %s)\n%s", rec, first.ClaimedID, run.stderr)
	}
	if len(guid2) == 0 || string(guid2) == string(guid) {
		t.Errorf("machine GUID %q after --new-identity, %q before", guid2, guid)
	}
	checkClaimFiles(t, h, cloud)
}
