package claim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noPipeCLI is netdatacli on a host whose restarted agent has not made its
// pipe yet: while the count in no-pipe-yet lasts, every command prints what
// Debian's real 1.37.1 netdatacli prints without an agent (no-pipe.txt,
// from remote/testdata/probe/debian12-netdatacli-agent-stopped.txt) and
// exits 255 (cli/cli.c:142-144 at v1.37.1); then the agent answers.
const noPipeCLI = `#!/bin/sh
base=$(cd "$(dirname "$0")/.." && pwd)
n=$(cat "$base/no-pipe-yet" 2>/dev/null || echo 0)
if [ "$n" -gt 0 ]; then
  echo $((n-1)) > "$base/no-pipe-yet"
  cat "$base/no-pipe.txt" >&2
  exit 255
fi
exec "$base/bin/netdatacli.agent" "$@"
`

// slowStartInit is the host's init script with a slow start: a start (or
// restart) leaves the agent without its pipe for the next noPipeCalls
// netdatacli commands, as a loaded host's agent is for a while after its
// init script returns.
const slowStartInit = `#!/bin/sh
nd="$(cd "$(dirname "$0")/../.." && pwd)/opt/netdata"
case "$1" in start|restart) echo 3 > "$nd/no-pipe-yet" ;; esac
exec "$0.orig" "$@"
`

// TestClaimScriptWaitsForRestartedAgent: after netdata-claim.sh exits 5
// (claimed, the stopped agent not told), the agent is restarted and its
// state read once it answers netdatacli ping, not while netdatacli still
// exits 255 for want of its pipe (which ended real hosts
// agent-not-running).
func TestClaimScriptWaitsForRestartedAgent(t *testing.T) {
	capture, err := os.ReadFile("../remote/testdata/probe/debian12-netdatacli-agent-stopped.txt")
	if err != nil {
		t.Fatal(err)
	}
	msg, _, ok := strings.Cut(string(capture), "exit=255\n")
	if !ok {
		t.Fatalf("the capture has no exit=255 line: %q", capture)
	}
	root := fakeV1Install(t, currentUser(t), 5, "The claim was successful but the agent could not be notified (0)- it requires a restart to connect to the cloud.")
	nd := filepath.Join(root, "opt/netdata")
	cli := filepath.Join(nd, "bin/netdatacli")
	initd := filepath.Join(root, "etc/init.d/netdata")
	for _, mv := range [][2]string{{cli, cli + ".agent"}, {initd, initd + ".orig"}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{cli: noPipeCLI, initd: slowStartInit, filepath.Join(nd, "no-pipe.txt"): msg} {
		if err := os.WriteFile(name, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := New(localConnector{}, Options{Wait: 0, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
	res := c.Do(context.Background(), testHost(root, ""))
	if res.Status != StatusClaimed {
		t.Fatalf("%s [%s] %q, want claimed: the state read once the restarted agent answers", res.Status, res.Category, res.Message)
	}
	if b, _ := os.ReadFile(filepath.Join(nd, "no-pipe-yet")); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("no-pipe-yet %q: the agent's pipe was never waited for", b)
	}
	restarted := false
	for _, p := range res.Plan {
		restarted = restarted || strings.HasPrefix(p, "restarted the agent after its claim")
	}
	if !restarted {
		t.Errorf("plan %q: no restart", res.Plan)
	}
}
