package claim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDuplicateMachineGUID: the second host of a run with the first's
// machine GUID is not claimed and names the first; with --new-identity it
// is reclaimed with a new GUID.
func TestDuplicateMachineGUID(t *testing.T) {
	me := currentUser(t)
	for _, newID := range []bool{false, true} {
		a, b := fakeInstall(t, me), fakeInstall(t, me) // same machine GUID
		c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token"), NewIdentity: newID})
		ha, hb := testHost(a, ""), testHost(b, "")
		ha.Name, hb.Name = "clone-a", "clone-b"
		ra := c.Do(context.Background(), ha)
		if ra.Status != StatusClaimed {
			t.Fatalf("first clone: %+v", ra)
		}
		rb := c.Do(context.Background(), hb)
		guid := filepath.Join(b, "opt/netdata/var/lib/netdata/registry/netdata.public.unique.id")
		_, statErr := os.Stat(guid)
		if !newID {
			if rb.Status != StatusFailed || rb.Category != CatDuplicateGUID || rb.DuplicateOf != "clone-a" || !strings.Contains(rb.Message, "clone-a") {
				t.Fatalf("second clone: %+v", rb)
			}
			if _, err := os.Stat(filepath.Join(b, "opt/netdata/etc/netdata/claim.conf")); err == nil {
				t.Fatal("the duplicate was claimed")
			}
			if statErr != nil {
				t.Fatal("the duplicate's GUID was removed without --new-identity")
			}
			// A retry of the same host is not its own duplicate.
			if again := c.Do(context.Background(), ha); again.Category == CatDuplicateGUID {
				t.Fatalf("retry of the first host: %+v", again)
			}
			continue
		}
		if rb.Status != StatusReclaimed || rb.DuplicateOf != "clone-a" || !os.IsNotExist(statErr) {
			t.Fatalf("--new-identity: %+v (GUID file: %v)", rb, statErr)
		}
	}
}

// fakeKickstart lays out the fake v2 agent in opt/netdata under the host's
// root (FLEETCLAIM_TEST_ROOT stands for /, where the real static install
// goes), refuses --install-prefix without --build-only as kickstart.sh
// does (packaging/installer/kickstart.sh:1364-1367 v2.11.0, F0204; fatal
// exits 1, ibid. 504-520), refuses to run without --non-interactive, and
// exits 3 to show that its exit code decides nothing.
func fakeKickstart(runAs string) string {
	return `#!/bin/sh
ni= prefix= build=
while [ $# -gt 0 ]; do
  case "$1" in
  --non-interactive) ni=1 ;;
  --install-prefix) prefix=$2; shift ;;
  --build-only) build=1 ;;
  esac
  shift
done
if [ -n "$prefix" ] && [ -z "$build" ]; then
  echo " ABORTED  The --install-prefix option is only supported together with the --build-only option." >&2; exit 1
fi
[ -n "$ni" ] || { echo "would ask questions"; exit 1; }
prefix="$FLEETCLAIM_TEST_ROOT/opt"
nd="$prefix/netdata"
mkdir -p "$nd/bin" "$nd/etc/netdata" "$nd/var/lib/netdata/registry" "$prefix/../etc/init.d"
cat > "$nd/bin/netdatacli" <<'EOF_CLI'
` + fakeAgentCLI + `EOF_CLI
printf '#!/bin/sh\ncase "$1" in -v) echo netdata v2.7.1;; esac\n' > "$nd/bin/netdata"
printf '#!/bin/sh\n# %%%%NEW_CLAIMING_METHOD%%%%\n' > "$nd/bin/netdata-claim.sh"
printf '[global]\n    run as user = ` + runAs + `\n[web]\n    mode = none\n' > "$nd/etc/netdata/netdata.conf"
echo "INSTALL_TYPE='kickstart-static'" > "$nd/etc/netdata/.install-type"
echo 5d0b8c9e-0000-4000-8000-000000000001 > "$nd/var/lib/netdata/registry/netdata.public.unique.id"
chmod 755 "$nd/bin/netdata" "$nd/bin/netdatacli" "$nd/bin/netdata-claim.sh"
echo "claim failed, but exiting as if all is fine... not quite"
exit 3
`
}

func TestKickstartPushedScript(t *testing.T) {
	me := currentUser(t)
	script := fakeKickstart(me)
	sum := sha256.Sum256([]byte(script))
	pin := hex.EncodeToString(sum[:])
	cases := []struct {
		name, sha string
		want      Category
	}{
		{"pinned", pin, ""},
		{"unpinned", "", ""},
		{"wrong sha256", strings.Repeat("0", 64), "invalid-value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			t.Setenv("FLEETCLAIM_TEST_ROOT", root)
			ks := filepath.Join(t.TempDir(), "kickstart.sh")
			os.WriteFile(ks, []byte(script), 0o644)
			h := testHost(root, "")
			h.Claim.Method = MethodKickstart
			h.Claim.Kickstart.ScriptFile = ks
			h.Claim.Kickstart.ScriptSHA256 = tc.sha
			plan := New(localConnector{}, Options{Mode: ModePlan, Token: tokenOf("good-token")}).Do(context.Background(), h)
			if plan.Status != StatusPlanned || plan.Method != MethodKickstart || len(plan.Plan) < 4 {
				t.Fatalf("plan: %+v", plan)
			}
			if _, err := os.Stat(filepath.Join(root, "opt")); err == nil {
				t.Fatal("plan installed something")
			}
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
			res := c.Do(context.Background(), h)
			if left, _ := filepath.Glob(filepath.Join(tmp, "fleetclaim-kickstart.*")); len(left) != 0 {
				t.Fatalf("pushed files left on the host: %v", left)
			}
			if tc.want != "" {
				if res.Category != tc.want {
					t.Fatalf("%+v", res)
				}
				if _, err := os.Stat(filepath.Join(root, "opt")); err == nil {
					t.Fatal("a script with the wrong sha256 ran")
				}
				return
			}
			if res.Status != StatusClaimed || res.Method != MethodKickstart || res.AgentVersion != "2.7.1" || len(res.Warnings) == 0 {
				t.Fatalf("%+v", res)
			}
			conf, err := os.ReadFile(filepath.Join(root, "opt/netdata/etc/netdata/claim.conf"))
			if err != nil || !strings.Contains(string(conf), "token = good-token") {
				t.Fatalf("claim.conf: %q %v", conf, err)
			}
		})
	}
}

// TestDockerMethod claims the agent of a container through a docker
// stand-in that records its arguments: the token only ever goes through
// stdin, and an old Docker is reported.
func TestDockerMethod(t *testing.T) {
	me := currentUser(t)
	root := fakeInstall(t, me)
	bin := t.TempDir()
	argv := filepath.Join(bin, "argv.log")
	docker := `#!/bin/sh
printf '%s\n' "$*" >> ` + argv + `
case "$1" in
ps) echo "netdata netdata/netdata:v2.7.1"; echo "web nginx:latest" ;;
version) echo 17.12.0 ;;
exec)
  shift
  while :; do case "$1" in -i|-t|-it) shift ;; -u) shift 2 ;; *) break ;; esac; done
  [ "$1" = netdata ] || { echo "Error: No such container: $1" >&2; exit 1; }
  shift
  exec "$@" ;;
*) exit 1 ;;
esac
`
	os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	h := testHost(root, "")
	h.Claim.Method = MethodDocker
	c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	res := c.Do(context.Background(), h)
	if res.Status != StatusClaimed || res.Method != MethodDocker {
		t.Fatalf("%+v", res)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "seccomp") {
		t.Errorf("no seccomp warning for Docker 17.12: %v", res.Warnings)
	}
	log, _ := os.ReadFile(argv)
	if strings.Contains(string(log), "good-token") || !strings.Contains(string(log), "exec -i netdata") {
		t.Fatalf("docker argv: %s", log)
	}
	conf, _ := os.ReadFile(filepath.Join(root, "opt/netdata/etc/netdata/claim.conf"))
	if !strings.Contains(string(conf), "token = good-token") {
		t.Fatalf("claim.conf in the container: %q", conf)
	}
	// A named container that does not run.
	h.Claim.DockerContainer = "other"
	if res := c.Do(context.Background(), h); res.Category != CatNotInstalled {
		t.Fatalf("missing container: %+v", res)
	}
}

// TestKickstartKeepPushed: with KeepPushed the pushed script stays, and the
// record says where.
func TestKickstartKeepPushed(t *testing.T) {
	script := fakeKickstart(currentUser(t))
	ks := filepath.Join(t.TempDir(), "kickstart.sh")
	os.WriteFile(ks, []byte(script), 0o644)
	root := t.TempDir()
	t.Setenv("FLEETCLAIM_TEST_ROOT", root)
	h := testHost(root, "")
	h.Claim.Method = MethodKickstart
	h.Claim.Kickstart.ScriptFile = ks
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	res := New(localConnector{}, Options{KeepPushed: true, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	left, _ := filepath.Glob(filepath.Join(tmp, "fleetclaim-kickstart.*", "kickstart.sh"))
	if res.Status != StatusClaimed || len(left) != 1 || !strings.Contains(strings.Join(res.Warnings, " "), "--keep-pushed") {
		t.Fatalf("%+v, left %v", res, left)
	}
}
