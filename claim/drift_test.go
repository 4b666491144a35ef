package claim

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// stepLines are the plan lines a run's steps carried out, in order.
func stepLines(res Result) []string {
	var out []string
	for _, s := range res.Steps {
		out = append(out, s.plan...)
	}
	return out
}

// planSteps are a plan's lines without the ones saying who runs the
// commands (a claim records that in each step's As and Via).
func planSteps(t *testing.T, res Result) []string {
	t.Helper()
	var out []string
	sawAs := false
	for _, l := range res.Plan {
		if strings.HasPrefix(l, "run as ") {
			sawAs = true
			continue
		}
		out = append(out, l)
	}
	if !sawAs {
		t.Errorf("plan does not say who runs its commands: %q", res.Plan)
	}
	return out
}

// installFakeDocker puts a docker stand-in first on PATH whose one
// container, netdata, runs the commands it is given on this machine.
func installFakeDocker(t *testing.T) {
	bin := t.TempDir()
	docker := `#!/bin/sh
case "$1" in
ps) echo "netdata netdata/netdata:v2.7.1" ;;
version) echo 24.0.7 ;;
exec)
  shift
  while :; do case "$1" in -i|-t|-it) shift ;; -u) shift 2 ;; *) break ;; esac; done
  [ "$1" = netdata ] || { echo "Error: No such container: $1" >&2; exit 1; }
  shift
  exec "$@" ;;
*) exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
}

// TestPlanIsWhatClaimDoes: for each method, a plan of a host lists exactly
// the lines of the steps the claim of the same host then carries out, in
// the same order: both come from one place (hostRun.wet), so they cannot
// drift. The hosts set what adds lines (a CA chain, netdata.conf
// settings, what a cut-off claim left); reclaim is reached with --force,
// unclaim with plan --unclaim.
func TestPlanIsWhatClaimDoes(t *testing.T) {
	me := currentUser(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644)
	yes := true
	settings := func(h *inventory.Host) *inventory.Host {
		h.Claim.Hostname, h.Claim.Ephemeral = "drift-node", &yes
		h.Claim.Labels = []inventory.Label{{Name: "team", Value: "web"}}
		return h
	}
	cases := []struct {
		name   string
		host   func(t *testing.T) *inventory.Host
		opts   Options
		status Status
	}{
		{"claim.conf", func(t *testing.T) *inventory.Host { return settings(testHost(fakeInstall(t, me), ca)) }, Options{}, StatusClaimed},
		{"netdata-claim.sh", func(t *testing.T) *inventory.Host {
			return settings(testHost(fakeV1Install(t, me, 0, "Node was successfully claimed."), ca))
		}, Options{}, StatusClaimed},
		{"claim.conf after a cut-off claim", func(t *testing.T) *inventory.Host {
			root := fakeInstall(t, me)
			if err := os.Mkdir(filepath.Join(root, "opt/netdata/etc/netdata/.fleetclaim.AbC123"), 0o700); err != nil {
				t.Fatal(err)
			}
			return testHost(root, "")
		}, Options{}, StatusClaimed},
		{"claim.conf --force", func(t *testing.T) *inventory.Host { return claimedHost(t, testHost(fakeInstall(t, me), "")) }, Options{Force: true}, StatusReclaimed},
		{"docker", func(t *testing.T) *inventory.Host {
			installFakeDocker(t)
			h := testHost(fakeInstall(t, me), ca)
			h.Claim.Method = MethodDocker
			return h
		}, Options{}, StatusClaimed},
		{"unclaim", func(t *testing.T) *inventory.Host { return claimedHost(t, testHost(fakeInstall(t, me), "")) }, Options{Unclaim: true}, StatusUnclaimed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.host(t)
			opts := tc.opts
			opts.Wait, opts.PollInterval, opts.Token = 2*time.Second, 10*time.Millisecond, tokenOf("good-token")
			opts.Mode = ModePlan
			plan := New(localConnector{}, opts).Do(context.Background(), h)
			opts.Mode = ModeClaim
			if opts.Unclaim {
				opts.Mode = ModeUnclaim
			}
			res := New(localConnector{}, opts).Do(context.Background(), h)
			if plan.Status != StatusPlanned || res.Status != tc.status {
				t.Fatalf("plan %s, %s %s [%s] %s", plan.Status, opts.Mode, res.Status, res.Category, res.Message)
			}
			want := plan.Plan // an unclaim's plan has no "run as" line
			if !opts.Unclaim {
				want = planSteps(t, plan)
			}
			if got := stepLines(res); !reflect.DeepEqual(got, want) {
				t.Errorf("plan and claim differ:\nplan  %q\nsteps %q", want, got)
			}
			if len(want) < 2 {
				t.Errorf("plan of %d lines: %q", len(want), want)
			}
			if left := strings.Contains(tc.name, "cut-off"); left != slices.Contains(want, leftoversPlan) {
				t.Errorf("leftovers to remove %v, plan %q", left, want)
			}
		})
	}
}

// claimedHost claims h (claim.conf) and returns it.
func claimedHost(t *testing.T, h *inventory.Host) *inventory.Host {
	t.Helper()
	res := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}).Do(context.Background(), h)
	if res.Status != StatusClaimed {
		t.Fatalf("claim: %+v", res)
	}
	return h
}

// TestKickstartPlanIsWhatClaimDoes: kickstart's own steps (install, probe
// again) are what its plan lists; what follows is the claim of the agent
// it installed, which a plan cannot know yet: it says so in two lines, and
// the claim carries out that agent's claim step and the same wait.
func TestKickstartPlanIsWhatClaimDoes(t *testing.T) {
	script := fakeKickstart(currentUser(t))
	ks := filepath.Join(t.TempDir(), "kickstart.sh")
	os.WriteFile(ks, []byte(script), 0o644)
	root := t.TempDir()
	t.Setenv("FLEETCLAIM_TEST_ROOT", root)
	t.Setenv("TMPDIR", t.TempDir())
	h := testHost(root, "")
	h.Claim.Method = MethodKickstart
	h.Claim.Kickstart.ScriptFile = ks
	opts := Options{Mode: ModePlan, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}
	plan := New(localConnector{}, opts).Do(context.Background(), h)
	opts.Mode = ModeClaim
	res := New(localConnector{}, opts).Do(context.Background(), h)
	if plan.Status != StatusPlanned || res.Status != StatusClaimed {
		t.Fatalf("plan %s, claim %s [%s] %s", plan.Status, res.Status, res.Category, res.Message)
	}
	want := planSteps(t, plan)
	tail := []string{kickstartClaimLine, waitLine}
	if len(want) < 3 || !reflect.DeepEqual(want[len(want)-2:], tail) {
		t.Fatalf("plan %q does not end with %q", want, tail)
	}
	own := want[:len(want)-2]
	got := stepLines(res)
	if len(got) <= len(own) || !reflect.DeepEqual(got[:len(own)], own) {
		t.Fatalf("kickstart's steps differ from its plan:\nplan  %q\nsteps %q", own, got)
	}
	claimed := claimConfLines(h, &remote.Install{ConfigDir: filepath.Join(root, "opt/netdata/etc/netdata")})
	if rest := got[len(own):]; !reflect.DeepEqual(rest, append(claimed, waitLine)) {
		t.Errorf("the new agent's claim: %q, want %q", rest, append(claimed, waitLine))
	}
}
