package claim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// fakePingCLI is a netdatacli that logs its command; ping answers as the
// real v2.11.0 agent once up (exit 0, "pong": ../shared/netdata-v2/README.md).
const fakePingCLI = `#!/bin/sh
echo "$*" >> "$(dirname "$0")/cli.log"
[ "$1" = ping ] && echo pong
exit 0
`

// TestNetdataConfShells runs netdataconf.sh, as fleetclaim sends it, in
// dash, bash and busybox: keys are replaced in their section or added to
// it, the user's other labels, keys, comments and the file's mode are
// kept, a [global] change restarts the agent and waits for ping, a label
// change only reloads the labels, an unchanged file is not rewritten nor
// the agent touched, a missing file is created, and a link is refused.
func TestNetdataConfShells(t *testing.T) {
	script, err := hostScript(netdataConfCode)
	if err != nil {
		t.Fatal(err)
	}
	const before = "# netdata.conf\n[global]\n    run as user = netdata\n    # hostname = template\n\n[host labels]\n    keep = me\n    team = old\n\n[web]\n    default port = 19999\n"
	const want = "# netdata.conf\n[global]\n    run as user = netdata\n    # hostname = template\n\n    hostname = web-1\n    is ephemeral node = yes\n[host labels]\n    keep = me\n    team = web\n\n    tier = front\n[web]\n    default port = 19999\n"
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			cli := filepath.Join(l.bin, "netdatacli")
			write(t, cli, fakePingCLI, 0o755)
			nc := filepath.Join(l.conf, "netdata.conf")
			write(t, nc, before, 0o640)
			svc := filepath.Join(l.root, "service.log")
			restart := "echo restart >> " + svc
			all := []string{"global", "hostname", "web-1", "global", "is ephemeral node", "yes", "host labels", "team", "web", "host labels", "tier", "front"}
			out := runIn(t, argv, script, nil, append([]string{l.conf, cli, restart}, all...)...)
			if got := strings.Join(outLines(out, "changed="), ","); got != "global/hostname,global/is ephemeral node,host labels/team,host labels/tier" {
				t.Fatalf("changed %q; printed %q", got, out)
			}
			if kv := parseKV(out); kv["restart-rc"] != "0" || kv["ping-rc"] != "0" || kv["reload-labels-rc"] != "" {
				t.Errorf("printed %q", out)
			}
			st, _ := os.Stat(nc)
			if b, _ := os.ReadFile(nc); string(b) != want || st.Mode().Perm() != 0o640 {
				t.Errorf("netdata.conf (%v):\n%s\nwant:\n%s", st.Mode(), b, want)
			}
			if b, _ := os.ReadFile(svc); string(b) != "restart\n" {
				t.Errorf("service log %q", b)
			}
			l.leftovers(t)

			// Again: nothing changes, nothing is restarted or rewritten.
			os.Remove(svc)
			os.Remove(filepath.Join(l.bin, "cli.log"))
			st1, _ := os.Stat(nc)
			out = runIn(t, argv, script, nil, append([]string{l.conf, cli, restart}, all...)...)
			st2, _ := os.Stat(nc)
			if kv := parseKV(out); kv["unchanged"] != "1" || kv["changed"] != "" || !os.SameFile(st1, st2) {
				t.Errorf("second run printed %q (same file: %v)", out, os.SameFile(st1, st2))
			}
			if _, err := os.Stat(svc); !os.IsNotExist(err) {
				t.Errorf("unchanged settings restarted the agent")
			}

			// A label alone: reload-labels, no restart.
			out = runIn(t, argv, script, nil, l.conf, cli, restart, "host labels", "team", "db")
			if kv := parseKV(out); kv["changed"] != "host labels/team" || kv["reload-labels-rc"] != "0" || kv["restart-rc"] != "" {
				t.Errorf("label change printed %q", out)
			}
			if b, _ := os.ReadFile(filepath.Join(l.bin, "cli.log")); string(b) != "reload-labels\n" {
				t.Errorf("netdatacli calls %q", b)
			}
			if b, _ := os.ReadFile(nc); !strings.Contains(string(b), "    keep = me\n    team = db\n") {
				t.Errorf("netdata.conf after the label change:\n%s", b)
			}

			// No netdata.conf: made, 0644; a stopped agent is not restarted.
			os.Remove(nc)
			out = runIn(t, argv, script, nil, l.conf, cli, "", "global", "is ephemeral node", "no")
			st, _ = os.Stat(nc)
			if b, _ := os.ReadFile(nc); string(b) != "\n[global]\n    is ephemeral node = no\n" || st.Mode().Perm() != 0o644 || parseKV(out)["restart-rc"] != "" {
				t.Errorf("new netdata.conf %q (%v); printed %q", b, st.Mode(), out)
			}

			// netdata.conf is a link: refused, the target untouched.
			target := filepath.Join(l.root, "elsewhere.conf")
			write(t, target, "[global]\n", 0o644)
			os.Remove(nc)
			if err := os.Symlink(target, nc); err != nil {
				t.Fatal(err)
			}
			out = runIn(t, argv, script, nil, l.conf, cli, restart, "global", "hostname", "x")
			if kv := parseKV(out); kv["fleetclaim-error"] != "unsafe-path" {
				t.Errorf("link: printed %q", out)
			}
			if b, _ := os.ReadFile(target); string(b) != "[global]\n" {
				t.Errorf("the link's target was written: %q", b)
			}
		})
	}
}

// TestNetdataConfScriptLintAsSent: netdataconf.sh passes shellcheck as
// sent, after lib.sh.
func TestNetdataConfScriptLintAsSent(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("no shellcheck")
	}
	p := filepath.Join(t.TempDir(), "netdataconf.sh")
	write(t, p, libSnippet(t, netdataConfCode), 0o644)
	if out, err := exec.Command("shellcheck", "-s", "sh", p).CombinedOutput(); err != nil {
		t.Errorf("shellcheck of netdataconf.sh as sent: %v\n%s", err, out)
	}
}

// TestConfSettings: the node name, ephemeral and labels go to netdata.conf
// for both generations (v1's agent would rename the node back to its own
// host name when it connects), nothing for a container (refused with the
// reason).
func TestConfSettings(t *testing.T) {
	yes := true
	h := &inventory.Host{Claim: inventory.Claim{Hostname: "web-1", Ephemeral: &yes, Labels: []inventory.Label{{Name: "team", Value: "web"}}}}
	v2 := confSettings(h) // claim.conf's
	v1 := confSettings(h) // netdata-claim.sh's
	if len(v2) != 3 || v2[0] != (confSetting{"global", "hostname", "web-1"}) || v2[1] != (confSetting{"global", "is ephemeral node", "yes"}) || v2[2] != (confSetting{"host labels", "team", "web"}) {
		t.Errorf("v2 settings %v", v2)
	}
	if len(v1) != 3 || v1[0] != (confSetting{"global", "hostname", "web-1"}) {
		t.Errorf("v1 settings %v", v1)
	}
	if w, _ := (kickstartMethod{}).settings(h); w == "" {
		t.Errorf("kickstart: settings not deferred")
	}
	if w, err := (confMethod{}).settings(h); w != "" || err != nil {
		t.Errorf("claim.conf: settings deferred or refused: %q %v", w, err)
	}
	_, refused := dockerMethod{}.settings(h)
	_, confRefused := confMethod{}.settings(h)
	_, bareRefused := dockerMethod{}.settings(&inventory.Host{})
	if refused == nil || confRefused != nil || bareRefused != nil {
		t.Errorf("docker refusal")
	}
}
