package claim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// TestReclaimNewIdentityRemovesEveryCopy: --new-identity removes the
// machine GUID, every copy of status-netdata.json a v2 agent restores the
// GUID from (the var lib and cache dirs, /tmp, /run and /var/run under the
// host's root: netdata v2.11.0 src/daemon/status-file-io.c:6-11, 86-95;
// src/daemon/machine-guid.c:361-371) and netdata-meta.db with its
// journals (docs/learn/vm-templates.md:124 v2.11.0).
func TestReclaimNewIdentityRemovesEveryCopy(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	h := testHost(root, "")
	if first := New(localConnector{}, Options{Token: tokenOf("good-token")}).Do(context.Background(), h); first.Status != StatusClaimed {
		t.Fatalf("claim: %+v", first)
	}
	nd := filepath.Join(root, "opt/netdata")
	copies := []string{
		filepath.Join(nd, "var/lib/netdata/status-netdata.json"),
		filepath.Join(nd, "var/cache/netdata/status-netdata.json"),
		filepath.Join(root, "tmp/status-netdata.json"),
		filepath.Join(root, "run/status-netdata.json"),
		filepath.Join(root, "var/run/status-netdata.json"),
		filepath.Join(nd, "var/cache/netdata/netdata-meta.db"),
		filepath.Join(nd, "var/cache/netdata/netdata-meta.db-wal"),
	}
	keep := filepath.Join(nd, "var/cache/netdata/dbengine-keep")
	for _, f := range append(copies, keep) {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(`{"agent":{"id":"0f6a3c55-7c1e-4f0e-9d55-0c4f5d2d9e11"}}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := New(localConnector{}, Options{Mode: ModeReclaim, NewIdentity: true, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if res.Status != StatusReclaimed {
		t.Fatalf("reclaim: %+v", res)
	}
	for _, f := range copies {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s kept after --new-identity (%v)", f, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("removed more than the identity: %v", err)
	}
}

// TestClaimStartsStoppedV2Agent: a v2 agent that is not running is started
// after claim.conf is written, as the v1 path starts it after its claim,
// and the record says so. Its netdatacli exits 255 while it is down
// (../shared/netdata-v2/README.md: "Cannot connect to '/run/netdata/netdata.pipe'").
func TestClaimStartsStoppedV2Agent(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	nd := filepath.Join(root, "opt/netdata")
	os.WriteFile(filepath.Join(nd, "stopped"), nil, 0o644)
	h := testHost(root, "")
	plan := New(localConnector{}, Options{Mode: ModePlan, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if !strings.Contains(strings.Join(plan.Plan, "\n"), "start the agent if it is not running") {
		t.Errorf("plan does not say the agent is started: %q", plan.Plan)
	}
	res := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if res.Status != StatusClaimed || !strings.Contains(strings.Join(res.Plan, "\n"), "started the agent, which was not running") {
		t.Fatalf("%+v", res)
	}
	if log, _ := os.ReadFile(filepath.Join(nd, "service.log")); string(log) != "start\n" {
		t.Fatalf("service calls %q, want one start", log)
	}
}

// TestProxyChangeRestartsAgent: the agent's link reads its proxy once, at
// start (netdata v2.11.0 src/aclk/aclk_proxy.c:198-227), so a claim that
// sets or changes the proxy of a running agent restarts it; a claim with
// the same proxy does not.
func TestProxyChangeRestartsAgent(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	nd := filepath.Join(root, "opt/netdata")
	h := testHost(root, "")
	h.Claim.Proxy = inventory.NewProxy("http://proxy.example:3128")
	c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	res := c.Do(context.Background(), h)
	if res.Status != StatusClaimed || !strings.Contains(strings.Join(res.Plan, "\n"), "restarted the agent so that its Cloud link uses the new proxy") {
		t.Fatalf("%+v", res)
	}
	if log, _ := os.ReadFile(filepath.Join(nd, "service.log")); string(log) != "stop\nstart\n" {
		t.Fatalf("service calls %q, want a restart", log)
	}
	os.Remove(filepath.Join(nd, "service.log"))
	c2 := New(localConnector{}, Options{Force: true, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	os.RemoveAll(filepath.Join(nd, "var/lib/netdata/cloud.d"))
	if again := c2.Do(context.Background(), h); again.Status != StatusClaimed {
		t.Fatalf("second claim: %+v", again)
	}
	if log, _ := os.ReadFile(filepath.Join(nd, "service.log")); len(log) != 0 {
		t.Fatalf("the same proxy restarted the agent: %q", log)
	}
}

// TestForceOnClaimedV2AgentReclaims: a claimed v2 agent ignores claim.conf
// (netdata v2.11.0 src/claim/claim.c:165-170; the fake agent's
// reload-claiming-state does the same), so --force reclaims it (plan says
// so): the new Cloud url takes effect, with a new claimed id.
func TestForceOnClaimedV2AgentReclaims(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	h := testHost(root, "")
	first := New(localConnector{}, Options{Token: tokenOf("good-token")}).Do(context.Background(), h)
	if first.Status != StatusClaimed {
		t.Fatalf("claim: %+v", first)
	}
	h.Claim.URL = "https://other-cloud.example"
	plan := New(localConnector{}, Options{Mode: ModePlan, Force: true, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if !strings.Contains(strings.Join(plan.Plan, "\n"), "reclaim: --force on a claimed agent") {
		t.Errorf("plan does not say it reclaims: %q", plan.Plan)
	}
	res := New(localConnector{}, Options{Force: true, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	url, _ := os.ReadFile(filepath.Join(root, "opt/netdata/var/lib/netdata/cloud.d/url"))
	if res.Status != StatusReclaimed || res.ClaimedID == first.ClaimedID || strings.TrimSpace(string(url)) != "https://other-cloud.example" {
		t.Fatalf("--force: %+v (cloud url %q, first claimed id %s)", res, url, first.ClaimedID)
	}
}

// compiledVarLibClaimV1 is a v1 netdata-claim.sh as Netdata builds it: it
// looks for cloud.d/token under its compile-time var lib dir unless
// NETDATA_VARLIB_DIR says otherwise (netdata v1.37.1
// claim/netdata-claim.sh.in:134-136, 187-190), and a claim with the token
// it did not find is refused, exit 12 (ibid. 377: ErrForbidden).
const compiledVarLibClaimV1 = `#!/bin/sh
[ -z "${NETDATA_VARLIB_DIR}" ] && NETDATA_VARLIB_DIR="/nonexistent/compile-time/var/lib/netdata"
CLAIMING_DIR="${NETDATA_VARLIB_DIR}/cloud.d"
TOKEN="unknown"
[ -r "${CLAIMING_DIR}/token" ] && TOKEN="$(cat "${CLAIMING_DIR}/token")"
[ "$TOKEN" = "s3cret-token" ] || { echo "Failed to claim node with the following error message:\"token expired/token not found/invalid token\"" >&2; exit 12; }
echo 22222222-3333-4444-8555-666666666666 > "${CLAIMING_DIR}/claimed_id"
rm -f "${CLAIMING_DIR}/token"
echo "Node was successfully claimed."
`

// TestClaimScriptMovedVarLibDir: when [directories] lib moved the agent's
// var lib dir, netdata-claim.sh is told where the token is
// (NETDATA_VARLIB_DIR), instead of finding none and being refused with
// exit 12, which read as a rejected token.
func TestClaimScriptMovedVarLibDir(t *testing.T) {
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			write(t, filepath.Join(l.bin, "netdata-claim.sh"), compiledVarLibClaimV1, 0o755)
			script, args, err := buildClaimScript(testHost("", ""), l.install("root"), "s3cret-token", nil, nil, "", resetPlan{})
			if err != nil {
				t.Fatal(err)
			}
			out := runIn(t, argv, script, nil, args...)
			if kv := parseKV(out); kv["claim-rc"] != "0" || kv["claimed-id"] != "22222222-3333-4444-8555-666666666666" {
				t.Fatalf("printed %q", out)
			}
		})
	}
}

// TestClaimConfCAIsTrustedPem: a v2 agent passes cloud.d/trusted.pem to
// its claim request when there is one, and cloud_fullchain.pem only
// otherwise (netdata v2.11.0 src/claim/claim-with-api.c:229-243), so the
// chain goes to trusted.pem, replacing an old one there; the plan says it
// covers the claim request only (the link checks the system store:
// src/aclk/mqtt_websockets/mqtt_wss_client.c:444).
func TestClaimConfCAIsTrustedPem(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	cloudD := filepath.Join(root, "opt/netdata/var/lib/netdata/cloud.d")
	os.MkdirAll(cloudD, 0o770)
	os.WriteFile(filepath.Join(cloudD, "trusted.pem"), []byte("-----BEGIN CERTIFICATE-----\nOLD\n-----END CERTIFICATE-----\n"), 0o644)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	want := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	os.WriteFile(ca, []byte(want), 0o644)
	h := testHost(root, ca)
	plan := New(localConnector{}, Options{Mode: ModePlan, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if p := strings.Join(plan.Plan, "\n"); !strings.Contains(p, "cloud.d/trusted.pem (for the claim request only") {
		t.Errorf("plan: %q", plan.Plan)
	}
	res := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if res.Status != StatusClaimed {
		t.Fatalf("%+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(cloudD, "trusted.pem")); string(b) != want {
		t.Fatalf("trusted.pem %q: the agent would send its claim with the old chain", b)
	}
}

// TestDockerReportsEnvTokenAndNoVolume: the agent of a container tries
// NETDATA_CLAIM_TOKEN from its environment when the claim from claim.conf
// fails (netdata v2.11.0 src/claim/claim-with-api.c:597-617), so a token
// there is reported (never its value); and a var lib dir on no volume
// (packaging/docker/README.md:69-73 mounts one) is warned about, since the
// claim is lost with the container. The docker stand-in gives exec'd
// commands the container's environment, as docker exec does.
func TestDockerReportsEnvTokenAndNoVolume(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	bin := t.TempDir()
	docker := `#!/bin/sh
case "$1" in
ps) echo "netdata netdata/netdata:v2.7.1" ;;
version) echo 24.0.7 ;;
inspect) echo /etc/netdata; echo ;;
exec)
  shift
  while :; do case "$1" in -i|-t|-it) shift ;; -u) shift 2 ;; *) break ;; esac; done
  shift
  NETDATA_CLAIM_TOKEN=env-s3cret exec "$@" ;;
*) exit 1 ;;
esac
`
	os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	h := testHost(root, "")
	h.Claim.Method = MethodDocker
	res := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	w := strings.Join(res.Warnings, "\n")
	if res.Status != StatusClaimed || !strings.Contains(w, "NETDATA_CLAIM_TOKEN in its environment") || !strings.Contains(w, "is not on a volume") {
		t.Fatalf("%+v", res)
	}
	if strings.Contains(w+res.Message, "env-s3cret") {
		t.Fatalf("the environment's token leaked: %s", w)
	}
}

// TestKickstartOfflineBundleRefusals: kickstart.sh installs offline
// bundles as static builds only (packaging/installer/kickstart.sh:2598-2601
// v2.11.0, F0502), and only on the bundle's own channel, named by its
// "channel" file (ibid. 2622-2635, F0508, F0509): such settings are refused
// before anything is pushed, and the bundle's own channel is planned.
func TestKickstartOfflineBundleRefusals(t *testing.T) {
	bundle := t.TempDir()
	os.WriteFile(filepath.Join(bundle, "install.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	os.WriteFile(filepath.Join(bundle, "channel"), []byte("stable\n"), 0o644)
	cases := []struct {
		name   string
		set    func(k *inventory.Kickstart)
		reject string
	}{
		{"native only", func(k *inventory.Kickstart) { k.NativeOnly = true }, "F0502"},
		{"other channel", func(k *inventory.Kickstart) { k.Channel = "nightly" }, "F0509"},
		{"its channel", func(k *inventory.Kickstart) { k.Channel = "stable" }, ""},
		{"no channel file", func(k *inventory.Kickstart) { os.Remove(filepath.Join(bundle, "channel")) }, "F0508"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testHost(t.TempDir(), "")
			h.Claim.Method = MethodKickstart
			h.Claim.Kickstart.OfflineBundle = bundle
			tc.set(&h.Claim.Kickstart)
			res := New(localConnector{}, Options{Mode: ModePlan, Token: tokenOf("good-token")}).Do(context.Background(), h)
			if tc.reject == "" {
				if res.Status != StatusPlanned {
					t.Fatalf("%+v", res)
				}
				return
			}
			if res.Category != "invalid-value" || !strings.Contains(res.Message, tc.reject) {
				t.Fatalf("%+v, want refused with %s", res, tc.reject)
			}
		})
	}
}

// TestStateWaitsWhileAgentInitializes: right after a start, aclk-state
// answers "Agent is initializing", exit 0 (captured from the real v2.11.0
// agent: testdata/real/v2.11.0/reload-initializing; every command gets it,
// src/daemon/commands.c:682-686), which is no state: the read is asked
// again, not failed.
func TestStateWaitsWhileAgentInitializes(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	h := testHost(root, "")
	if first := New(localConnector{}, Options{Token: tokenOf("good-token")}).Do(context.Background(), h); first.Status != StatusClaimed {
		t.Fatalf("claim: %+v", first)
	}
	cli := filepath.Join(root, "opt/netdata/bin/netdatacli")
	if err := os.Rename(cli, cli+".ready"); err != nil {
		t.Fatal(err)
	}
	initializing := readCapture(t, "v2.11.0/reload-initializing").Stdout
	wrapper := "#!/bin/sh\nn=$(cat \"$0.count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$0.count\"\n" +
		"if [ $n -le 2 ]; then printf '%s' '" + initializing + "'; exit 0; fi\nexec \"$0.ready\" \"$@\"\n"
	os.WriteFile(cli, []byte(wrapper), 0o755)
	res := New(localConnector{}, Options{Mode: ModeVerify, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if res.Status != StatusAlreadyClaimed {
		t.Fatalf("%+v", res)
	}
}

// TestClaimScriptV1LinkProxy: a v1 agent's link reads its proxy from
// netdata.conf's [cloud] proxy only (before 1.46: netdata v1.37.1
// aclk/aclk_proxy.c:130; netdata-claim.sh.in:414 tells the user to put it
// there), once, at start. A v1 claim through a proxy therefore writes it
// there and restarts the agent; the same proxy again changes nothing; a
// proxy with credentials never goes into netdata.conf, readable by all.
func TestClaimScriptV1LinkProxy(t *testing.T) {
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			write(t, filepath.Join(l.bin, "netdata-claim.sh"), recordingClaimV1, 0o755)
			svcLog := filepath.Join(l.root, "service.log")
			svc := resetPlan{Stop: "echo stop >> " + svcLog, Start: "echo start >> " + svcLog}
			h := testHost("", "")
			h.Claim.Proxy = inventory.NewProxy("http://proxy.example:3128")
			run := func() map[string]string {
				script, args, err := buildClaimScript(h, l.install("root"), "s3cret-token", nil, nil, "", svc)
				if err != nil {
					t.Fatal(err)
				}
				return parseKV(runIn(t, argv, script, nil, args...))
			}
			if kv := run(); kv["claim-rc"] != "0" || kv["cloud-proxy"] != "1" || kv["restarted"] != "proxy" {
				t.Fatalf("printed %v", kv)
			}
			if b, _ := os.ReadFile(filepath.Join(l.conf, "netdata.conf")); string(b) != "\n[cloud]\n    proxy = http://proxy.example:3128\n" {
				t.Errorf("netdata.conf %q", b)
			}
			if kv := run(); kv["cloud-proxy"] != "same" || kv["restarted"] != "" {
				t.Fatalf("second run printed %v", kv)
			}
			if b, _ := os.ReadFile(svcLog); string(b) != "stop\nstart\n" {
				t.Errorf("service calls %q, want one restart", b)
			}
			os.Remove(filepath.Join(l.conf, "netdata.conf"))
			h.Claim.Proxy = inventory.NewProxy(credProxy)
			if kv := run(); kv["cloud-proxy"] != "" {
				t.Fatalf("a proxy with credentials went to netdata.conf: %v", kv)
			}
			if _, err := os.Stat(filepath.Join(l.conf, "netdata.conf")); err == nil {
				t.Fatal("netdata.conf written for a proxy with credentials")
			}
			l.leftovers(t)
		})
	}
}
