package claim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeACLKCLI is a netdatacli whose aclk-state json is the shape of the
// real v2.11.0 agent's, claimed and online with its node id
// (../shared/netdata-v2/README.md, "aclk-state", trimmed to its keys).
const fakeACLKCLI = `#!/bin/sh
[ "$1 $2" = "aclk-state json" ] || exit 1
echo '{"aclk-available":true,"agent-claimed":true,"claimed-id":"f72ce46c-abf1-4145-8a59-e96e6eedd626","online":true,"node-instances":[{"hostname":"vm","mguid":"1cdc8404-dd6d-42e3-bb03-646cebbbe228","claimed_id":"f72ce46c-abf1-4145-8a59-e96e6eedd626","node-id":"0C1D2E3F-4a5b-4c6d-8e7f-001122334455","streaming-hops":0,"relationship":"self"}]}'
`

// TestUnclaimScriptShells runs unclaim.sh, as fleetclaim sends it, in
// dash, bash and busybox: a claimed agent is stopped, its cloud.d and
// claim.conf removed and it is started again, its node id read first; a
// cloud.d that is a link is removed without touching what it points to;
// an unclaimed agent is not stopped at all; a stopped one stays stopped.
func TestUnclaimScriptShells(t *testing.T) {
	script, err := hostScript(unclaimCode)
	if err != nil {
		t.Fatal(err)
	}
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			cli := filepath.Join(l.bin, "netdatacli")
			write(t, cli, fakeACLKCLI, 0o755)
			cloudd := filepath.Join(l.lib, "cloud.d")
			os.MkdirAll(cloudd, 0o770)
			write(t, filepath.Join(cloudd, "claimed_id"), "f72ce46c-abf1-4145-8a59-e96e6eedd626\n", 0o644)
			write(t, filepath.Join(cloudd, "private.pem"), "key\n", 0o600)
			write(t, filepath.Join(l.conf, "claim.conf"), "[global]\n    token = x\n", 0o640)
			svc := filepath.Join(l.root, "service.log")
			sp := unclaimSpec{conf: l.conf, cloudd: cloudd, cli: cli, stop: "echo stop >> " + svc, start: "echo start >> " + svc}
			out := runIn(t, argv, script, nil, sp.args()...)
			kv := parseKV(out)
			if kv["removed"] != "1" || kv["stop-rc"] != "0" || kv["started"] != "1" || kv["state"] != "" {
				t.Fatalf("printed %q", out)
			}
			if got := strings.Join(outLines(out, "had="), ","); got != "claimed_id,claim.conf,agent-memory" {
				t.Errorf("had %q", got)
			}
			if id := selfNodeID([]byte(kv["aclk"])); id != "0c1d2e3f-4a5b-4c6d-8e7f-001122334455" {
				t.Errorf("node id %q from %q", id, kv["aclk"])
			}
			if b, _ := os.ReadFile(svc); string(b) != "stop\nstart\n" {
				t.Errorf("service log %q", b)
			}
			for _, gone := range []string{cloudd, filepath.Join(l.conf, "claim.conf")} {
				if _, err := os.Lstat(gone); !os.IsNotExist(err) {
					t.Errorf("%s not removed: %v", gone, err)
				}
			}
			if _, err := os.Stat(filepath.Join(l.lib, "registry/netdata.public.unique.id")); err != nil {
				t.Errorf("unclaim removed the machine GUID: %v", err)
			}

			// Nothing left: not stopped, nothing written.
			write(t, cli, "#!/bin/sh\necho '{\"agent-claimed\":false}'\n", 0o755)
			os.Remove(svc)
			out = runIn(t, argv, script, nil, sp.args()...)
			if kv := parseKV(out); kv["state"] != "unclaimed" || kv["removed"] != "" {
				t.Errorf("unclaimed agent: printed %q", out)
			}
			if _, err := os.Stat(svc); !os.IsNotExist(err) {
				t.Errorf("an unclaimed agent was stopped or started")
			}

			// netdatacli finds no agent (exit 255, as the real 1.37.1 and
			// v2.11.0 netdatacli do): the agent is neither stopped nor started.
			write(t, cli, "#!/bin/sh\necho 'uv_pipe_connect(): connection refused' >&2\nexit 255\n", 0o755)
			os.MkdirAll(cloudd, 0o770)
			write(t, filepath.Join(cloudd, "claimed_id"), "f72ce46c-abf1-4145-8a59-e96e6eedd626\n", 0o644)
			out = runIn(t, argv, script, nil, sp.args()...)
			if kv := parseKV(out); kv["agent"] != "stopped" || kv["removed"] != "1" || kv["stop-rc"] != "" || kv["started"] != "" {
				t.Errorf("stopped agent: printed %q", out)
			}
			if _, err := os.Stat(svc); !os.IsNotExist(err) {
				t.Errorf("a stopped agent was stopped or started")
			}
			os.RemoveAll(cloudd)

			// cloud.d is a link the agent's user made: removed, not followed.
			elsewhere := filepath.Join(l.root, "elsewhere")
			os.MkdirAll(elsewhere, 0o755)
			write(t, filepath.Join(elsewhere, "claimed_id"), "keep\n", 0o644)
			if err := os.Symlink(elsewhere, cloudd); err != nil {
				t.Fatal(err)
			}
			sp.stop, sp.start, sp.cli = "", "", "" // a stopped agent stays stopped
			out = runIn(t, argv, script, nil, sp.args()...)
			if kv := parseKV(out); kv["removed"] != "1" || kv["had"] != "cloud.d-link" || kv["started"] != "" || kv["stop-rc"] != "" {
				t.Errorf("cloud.d link: printed %q", out)
			}
			if _, err := os.Lstat(cloudd); !os.IsNotExist(err) {
				t.Errorf("the cloud.d link is still there: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(elsewhere, "claimed_id")); err != nil || string(b) != "keep\n" {
				t.Errorf("the link's target was touched: %q %v", b, err)
			}
			if _, err := os.Stat(svc); !os.IsNotExist(err) {
				t.Errorf("a stopped agent was started")
			}
		})
	}
}

// TestUnclaimScriptLintAsSent: unclaim.sh passes shellcheck as sent, after
// lib.sh.
func TestUnclaimScriptLintAsSent(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("no shellcheck")
	}
	p := filepath.Join(t.TempDir(), "unclaim.sh")
	write(t, p, libSnippet(t, unclaimCode), 0o644)
	if out, err := exec.Command("shellcheck", "-s", "sh", p).CombinedOutput(); err != nil {
		t.Errorf("shellcheck of unclaim.sh as sent: %v\n%s", err, out)
	}
}

// TestUnclaimPlanMatchesScript: the plan's lines name the very commands
// and paths the script is given.
func TestUnclaimPlanMatchesScript(t *testing.T) {
	sp := unclaimSpec{conf: "/etc/netdata", cloudd: "/var/lib/netdata/cloud.d", cli: "/usr/sbin/netdatacli", stop: "systemctl stop netdata", start: "systemctl start netdata"}
	plan := strings.Join(sp.plan(), "\n")
	for _, a := range sp.args() {
		if a != sp.cli && !strings.Contains(plan, a) {
			t.Errorf("plan %q does not show %q", plan, a)
		}
	}
	sp.stop, sp.start = "", ""
	if p := strings.Join(sp.plan(), "\n"); strings.Contains(p, "start the agent") || !strings.Contains(p, "not running") {
		t.Errorf("stopped agent plan %q", p)
	}
}

func TestSelfNodeID(t *testing.T) {
	for in, want := range map[string]string{
		`{"node-instances":[{"relationship":"self","node-id":null}]}`:                                          "",
		`{"node-instances":[{"relationship":"child","node-id":"0c1d2e3f-4a5b-4c6d-8e7f-001122334455"}]}`:       "",
		`{"node-instances":[{"relationship":"self","node-id":"0c1d2e3f-4a5b-4c6d-8e7f-001122334455"}]}`:        "0c1d2e3f-4a5b-4c6d-8e7f-001122334455",
		`{"node-instances":[{"relationship":"self","node-id":"../../api/v1/spaces?x=0c1d2e3f-4a5b-4c6d-8e"}]}`: "",
		`not json`: "",
	} {
		if got := selfNodeID([]byte(in)); got != want {
			t.Errorf("selfNodeID(%s) = %q, want %q", in, got, want)
		}
	}
}
