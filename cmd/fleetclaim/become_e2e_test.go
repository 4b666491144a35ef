package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// TestE2ELabBecome runs the real binary against lab hosts that log in as an
// ordinary user, for every method and way of becoming root: each host is
// claimed, then reclaimed, and every record says that its claim ran as
// root through sudo or doas (or as the agent's run-as user: logged in as
// it, or become_user), while the connection was the login user's.
func TestE2ELabBecome(t *testing.T) {
	spec := "v2+sudo=1,v2+sudo-password=1,v2+sudo-tty=1,v2+doas=1,v2+runas=1,v2+sudo-runas=1," +
		"v1+sudo=1,v1+doas=1,v1+sudo-runas=1,docker+sudo=1,docker+runas=1,none+sudo=1,none+doas=1"
	info := startLab(t, 13, "--personalities", spec)
	settings := map[string]string{}
	for _, h := range info.Hosts {
		if h.Personality.Kind == lab.KindNone {
			settings[h.Name] = "kickstart: {script_file: " + filepath.Join(info.Dir, "kickstart.sh") + "}"
		}
	}
	inv := withHostSettings(t, info, settings)
	want := func(h lab.HostInfo) (login, as, via string) {
		switch h.Personality.Login {
		case lab.LoginRunAs:
			return "netdata", "netdata", "none"
		case lab.LoginDoas:
			return "ops", "root", "doas"
		case lab.LoginSudoRunAs:
			return "ops", "netdata", "sudo"
		}
		return "ops", "root", "sudo"
	}
	for _, mode := range []string{"claim", "reclaim"} {
		results := filepath.Join(t.TempDir(), mode+".jsonl")
		r := fleetclaim(t, nil, mode, "-i", inv, "--results", results, "--wait", "20s", "--no-progress")
		recs := resultsByHost(t, results)
		for _, h := range info.Hosts {
			rec := recs[h.Name]
			login, as, via := want(h)
			step := "claim"
			switch {
			case mode == "reclaim" && (h.Personality.Kind == lab.KindDocker || h.Personality.Kind == lab.KindV1):
				// A container is recreated, not reclaimed; a v1 node keeps
				// its id (the machine GUID) and Cloud refuses it again
				// without --new-identity: what the probe and the attempt
				// ran as still counts.
				step = "probe"
			case mode == "reclaim" && h.Personality.Kind != lab.KindDocker:
				step = "reclaim"
			case h.Personality.Kind == lab.KindNone:
				step = "install"
			}
			if step != "probe" && !rec.Status.OK() {
				t.Errorf("%s %s (%s): %s [%s] %s", mode, h.Name, h.Personality, rec.Status, rec.Category, rec.Message)
				continue
			}
			var got *claim.Step
			for i := range rec.Steps {
				if rec.Steps[i].Name == step {
					got = &rec.Steps[i]
				}
			}
			switch {
			case got == nil:
				t.Errorf("%s %s (%s): no %s step in %+v", mode, h.Name, h.Personality, step, rec.Steps)
			case got.As != as || got.Via != via:
				t.Errorf("%s %s (%s): %s ran as %s via %s, want as %s via %s", mode, h.Name, h.Personality, step, got.As, got.Via, as, via)
			case rec.Steps[0].Name != "connect" || rec.Steps[0].As != login:
				t.Errorf("%s %s (%s): connected as %+v, want %s", mode, h.Name, h.Personality, rec.Steps[0], login)
			}
		}
		if mode == "claim" && (r.code != 0 || !strings.Contains(r.stdout+r.stderr, "13/13 nodes confirmed by Cloud")) {
			t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
}
