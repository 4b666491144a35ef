package claim

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// fakeAgentCLI is a netdatacli stand-in with v2 semantics, enough to test
// the claim flow on the local machine without SSH: reload claims when the
// token in claim.conf is "good-token" and the node is not claimed yet.
const fakeAgentCLI = `#!/bin/sh
base=$(cd "$(dirname "$0")/.." && pwd)
conf="$base/etc/netdata/claim.conf"
lib="$base/var/lib/netdata"
[ -f "$base/stopped" ] && { echo "Failed to connect to the agent"; exit 255; }
case "$1" in
ping) echo pong ;; # exit 0 once ready (netdata v2.11.0 src/daemon/commands.c:72)
reload-claiming-state)
  # A claimed agent ignores claim.conf (netdata v2.11.0 src/claim/claim.c:165-170).
  if [ -f "$lib/cloud.d/claimed_id" ]; then echo "Netdata Agent is claimed to Netdata Cloud and is currently online."; exit 0; fi
  if grep -q '^    token = good-token$' "$conf" 2>/dev/null; then
    n=$(cat "$base/claims" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$base/claims"
    mkdir -p "$lib/cloud.d"; echo 11111111-2222-4333-8444-55555555555$n > "$lib/cloud.d/claimed_id"
    sed -n 's/^    url = //p' "$conf" > "$lib/cloud.d/url"
    sed -n 's/^    proxy = //p' "$conf" > "$lib/cloud.d/proxy" # cloud.conf's proxy
    echo "Netdata Agent is claimed to Netdata Cloud and is currently online."
  else
    echo "Netdata Agent is not claimed to Netdata Cloud: Failed: token is expired, not found, or invalid" # testdata/real/v2.11.0/reload-403
  fi ;;
aclk-state)
  if [ -f "$lib/cloud.d/claimed_id" ]; then
    echo '{"aclk-available":true,"agent-claimed":true,"claimed-id":"'$(cat "$lib/cloud.d/claimed_id")'","cloud-url":"'$(cat "$lib/cloud.d/url")'","aclk_proxy":"'$(cat "$base/link-proxy" 2>/dev/null || echo none)'","online":true,"banned-by-cloud":false}'
  else
    echo '{"aclk-available":true,"agent-claimed":false,"claimed-id":null,"online":false,"banned-by-cloud":false}'
  fi ;;
*) echo "unknown command"; exit 1 ;;
esac
`

// fakeInitScript controls the fake agent like a SysV init script and logs
// what it was asked to do.
const fakeInitScript = `#!/bin/sh
nd="$(cd "$(dirname "$0")/../.." && pwd)/opt/netdata"
echo "$1" >> "$nd/service.log"
case "$1" in
stop) touch "$nd/stopped" ;;
start) rm -f "$nd/stopped"
  # The link reads its proxy once, at start, from cloud.conf (netdata
  # v2.11.0 src/aclk/aclk_proxy.c:198-227, src/claim/cloud-conf.c:23-36).
  p=$(cat "$nd/var/lib/netdata/cloud.d/proxy" 2>/dev/null); case $p in ''|none|env) p=none ;; *) p="$p (without credentials, from cloud.conf)" ;; esac
  printf '%s' "$p" | sed 's|/|\\/|g' > "$nd/link-proxy" ;;
esac
`

// fakeInstall lays out a static v2 agent under a new root and returns it.
func fakeInstall(t *testing.T, runAs string) string {
	t.Helper()
	root := t.TempDir()
	nd := filepath.Join(root, "opt/netdata")
	for _, d := range []string{"bin", "etc/netdata", "var/lib/netdata/registry"} {
		if err := os.MkdirAll(filepath.Join(nd, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"bin/netdata":               "#!/bin/sh\ncase \"$1\" in -v|-V) echo 'netdata v2.7.1';; -W) echo 'Netdata Cloud: YES';; esac\n",
		"bin/netdatacli":            fakeAgentCLI,
		"bin/netdata-claim.sh":      "#!/bin/sh\n# %%NEW_CLAIMING_METHOD%%\nexit 0\n",
		"etc/netdata/netdata.conf":  "[global]\n    run as user = " + runAs + "\n[web]\n    mode = none\n",
		"etc/netdata/.install-type": "INSTALL_TYPE='kickstart-static'\nPREBUILT_ARCH='x86_64'\n",
		"var/lib/netdata/registry/netdata.public.unique.id": "0f6a3c55-7c1e-4f0e-9d55-0c4f5d2d9e11\n",
	}
	initd := filepath.Join(root, "etc/init.d")
	os.MkdirAll(initd, 0o755)
	os.WriteFile(filepath.Join(initd, "netdata"), []byte(fakeInitScript), 0o755)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(nd, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type localConnector struct{}

func (localConnector) Connect(context.Context, *inventory.Host) (Conn, error) {
	return remote.Local{}, nil
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func testHost(root, ca string) *inventory.Host {
	return &inventory.Host{
		Name: "local", Address: "127.0.0.1", Groups: []string{"web"},
		Claim: inventory.Claim{URL: "https://cloud.example", Rooms: []string{"0b9d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11"}, Proxy: inventory.NewProxy("none"), NetdataPrefix: root, CAFile: ca},
	}
}

func tokenOf(v string) func(*inventory.Host) (inventory.Secret, error) {
	return func(*inventory.Host) (inventory.Secret, error) { return inventory.NewSecret(v), nil }
}

func TestClaimConfFlow(t *testing.T) {
	me := currentUser(t)
	root := fakeInstall(t, me)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644)
	h := testHost(root, ca)
	c := New(localConnector{}, Options{Mode: ModeClaim, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})

	res := c.Do(context.Background(), h)
	if res.Status != StatusClaimed || res.Method != MethodClaimConf {
		t.Fatalf("first run: %+v", res)
	}
	if res.ClaimedID != "11111111-2222-4333-8444-555555555551" || res.Online == nil || !*res.Online {
		t.Fatalf("first run did not record the claimed id and online state: %+v", res)
	}
	if res.AgentVersion != "2.7.1" || res.InstallType != "kickstart-static" || res.RunAsUser != me {
		t.Fatalf("facts not recorded: %+v", res)
	}
	confPath := filepath.Join(root, "opt/netdata/etc/netdata/claim.conf")
	st, err := os.Stat(confPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("claim.conf mode %v, want 0640", st.Mode().Perm())
	}
	body, _ := os.ReadFile(confPath)
	for _, want := range []string{"[global]\n", "    url = https://cloud.example\n", "    token = good-token\n", "    rooms = 0b9d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11\n", "    proxy = none\n", "    insecure = no\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("claim.conf lacks %q:\n%s", want, body)
		}
	}
	gotCA, err := os.ReadFile(filepath.Join(root, "opt/netdata/var/lib/netdata/cloud.d/trusted.pem"))
	if err != nil || !strings.Contains(string(gotCA), "MIIB") {
		t.Errorf("CA chain not installed: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "opt/netdata/etc/netdata/.claim.conf.fleetclaim.*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	again := c.Do(context.Background(), h)
	if again.Status != StatusAlreadyClaimed {
		t.Fatalf("second run: %+v", again)
	}
	if len(again.Steps) != 2 { // connect, probe: nothing written
		t.Errorf("second run took steps %+v, want only connect and probe", again.Steps)
	}
}

func TestClaimFailures(t *testing.T) {
	me := currentUser(t)
	t.Run("token rejected", func(t *testing.T) {
		root := fakeInstall(t, me)
		c := New(localConnector{}, Options{Token: tokenOf("bad-token"), PollInterval: time.Millisecond})
		res := c.Do(context.Background(), testHost(root, ""))
		if res.Status != StatusFailed || res.Category != CatTokenRejected || res.Remedy == "" {
			t.Fatalf("%+v", res)
		}
		if strings.Contains(res.Message, "bad-token") {
			t.Fatalf("token leaked into the message: %s", res.Message)
		}
	})
	t.Run("agent not running and cannot be started", func(t *testing.T) {
		root := fakeInstall(t, me)
		os.WriteFile(filepath.Join(root, "opt/netdata/stopped"), nil, 0o644)
		// An init script that cannot start it (TestClaimStartsStoppedV2Agent starts it).
		os.WriteFile(filepath.Join(root, "etc/init.d/netdata"), []byte("#!/bin/sh\nexit 1\n"), 0o755)
		c := New(localConnector{}, Options{Token: tokenOf("good-token")})
		res := c.Do(context.Background(), testHost(root, ""))
		if res.Category != CatAgentNotRunning {
			t.Fatalf("%+v", res)
		}
	})
	// No privilege: TestNoPrivilegeWithoutRoot and TestBecomeRefusals,
	// which need no root and skip for no one.
	t.Run("not installed", func(t *testing.T) {
		c := New(localConnector{}, Options{Token: tokenOf("good-token")})
		res := c.Do(context.Background(), testHost(t.TempDir(), ""))
		if res.Category != CatNotInstalled {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("built without cloud", func(t *testing.T) {
		root := fakeInstall(t, me)
		os.WriteFile(filepath.Join(root, "opt/netdata/bin/netdata"), []byte("#!/bin/sh\ncase \"$1\" in -v) echo 'netdata v1.37.1';; -W) echo 'Netdata Cloud: NO (by user request)';; esac\n"), 0o755)
		// A distribution package: no .install-type, so the probe reads the build info.
		os.Remove(filepath.Join(root, "opt/netdata/etc/netdata/.install-type"))
		c := New(localConnector{}, Options{Token: tokenOf("good-token")})
		res := c.Do(context.Background(), testHost(root, ""))
		if res.Category != CatUnsupportedInstall || !strings.Contains(res.Message, "1.37.1") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("value with a line break", func(t *testing.T) {
		root := fakeInstall(t, me)
		h := testHost(root, "")
		h.Claim.Proxy = inventory.NewProxy("http://p:1\n    token = injected")
		c := New(localConnector{}, Options{Token: tokenOf("good-token")})
		res := c.Do(context.Background(), h)
		if res.Category != remote.CatInvalidValue {
			t.Fatalf("%+v", res)
		}
		if _, err := os.Stat(filepath.Join(root, "opt/netdata/etc/netdata/claim.conf")); err == nil {
			t.Fatal("claim.conf was written despite the bad value")
		}
	})
}

func TestPlanChangesNothing(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	c := New(localConnector{}, Options{Mode: ModePlan})
	res := c.Do(context.Background(), testHost(root, ""))
	if res.Status != StatusPlanned || len(res.Plan) == 0 {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/netdata/etc/netdata/claim.conf")); err == nil {
		t.Fatal("plan wrote claim.conf")
	}
}

func TestReclaimStartsOver(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	nd := filepath.Join(root, "opt/netdata")
	h := testHost(root, "")
	first := New(localConnector{}, Options{Token: tokenOf("good-token")}).Do(context.Background(), h)
	if first.Status != StatusClaimed {
		t.Fatalf("claim: %+v", first)
	}
	res := New(localConnector{}, Options{Mode: ModeReclaim, NewIdentity: true, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if res.Status != StatusReclaimed || res.ClaimedID == first.ClaimedID || !strings.Contains(res.Message, first.ClaimedID) {
		t.Fatalf("reclaim: %+v (first claimed id %s)", res, first.ClaimedID)
	}
	log, _ := os.ReadFile(filepath.Join(nd, "service.log"))
	if string(log) != "stop\nstart\n" {
		t.Fatalf("service calls %q, want stop then start", log)
	}
	if _, err := os.Stat(filepath.Join(nd, "var/lib/netdata/registry/netdata.public.unique.id")); err == nil {
		t.Fatal("--new-identity kept the machine GUID")
	}
}

func TestReconcile(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	h := testHost(root, "")
	rec := New(localConnector{}, Options{Mode: ModeReconcile, Token: tokenOf("good-token"), OfflineFor: time.Hour})
	if r := rec.Do(context.Background(), h); r.Status != StatusClaimed {
		t.Fatalf("unclaimed host: %+v", r)
	}
	if r := rec.Do(context.Background(), h); r.Status != StatusAlreadyClaimed || len(r.Steps) != 2 {
		t.Fatalf("claimed host: %+v", r)
	}
	claims, _ := os.ReadFile(filepath.Join(root, "opt/netdata/claims"))
	if strings.TrimSpace(string(claims)) != "1" {
		t.Fatalf("reconcile of a claimed, online host claimed again (%s claims)", claims)
	}
	h.Claim.URL = "https://other-cloud.example"
	r := rec.Do(context.Background(), h)
	if r.Status != StatusReclaimed || !strings.Contains(r.Message, "not https://other-cloud.example") {
		t.Fatalf("host claimed to another url: %+v", r)
	}
}
