package inventory

import (
	"slices"
	"strings"
	"testing"
)

// TestLabelsAndEphemeral: labels and ephemeral resolve like any setting
// (the most specific level wins), a string form works for --set and CSV,
// and each bad label is an error naming file, line and key.
func TestLabelsAndEphemeral(t *testing.T) {
	inv, err := loadString(t, "inv.yml", `defaults:
  ephemeral: no
  labels: {team: core, site: ams-1}
groups:
  spot:
    ephemeral: yes
    labels:
      team: batch
      pool: "spot (c5.large)"
    hosts:
      s1: {}
      s2: {labels: "team=web,tier=front"}
  fixed:
    hosts:
      f1: {}
`, LoadOptions{SSHConfig: "none"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		eph    bool
		labels []Label
	}{
		"s1": {true, []Label{{"team", "batch"}, {"pool", "spot (c5.large)"}}},
		"s2": {true, []Label{{"team", "web"}, {"tier", "front"}}},
		"f1": {false, []Label{{"team", "core"}, {"site", "ams-1"}}},
	}
	for _, h := range inv.Hosts {
		w := want[h.Name]
		if h.Claim.Ephemeral == nil || *h.Claim.Ephemeral != w.eph || !slices.Equal(h.Claim.Labels, w.labels) {
			t.Errorf("%s: ephemeral %v labels %v, want %v %v", h.Name, h.Claim.Ephemeral, h.Claim.Labels, w.eph, w.labels)
		}
	}

	for _, c := range []struct{ in, where, msg string }{
		{"labels: {_is_ephemeral: x}", "inv.yml:2:12: defaults.labels:", "starts with '_'"},
		{"labels: {a=b: x}", "inv.yml:2:12: defaults.labels:", "only letters"},
		{"labels: {team: 'a$HOME'}", "inv.yml:2:12: defaults.labels.team:", `'$'`},
		{"labels: {team: 'a, b'}", "inv.yml:2:12: defaults.labels.team:", `','`},
		{"labels: {team: ' a'}", "inv.yml:2:12: defaults.labels.team:", "spaces"},
		{"labels: {team: [a]}", "inv.yml:2:18: defaults.labels.team:", "want a label value"},
		{"labels: team", "inv.yml:2:11: defaults.labels:", "name=value"},
		{"labels: [a]", "inv.yml:2:11: defaults.labels:", "want a mapping"},
		{"ephemeral: sometimes", "inv.yml:2:14: defaults.ephemeral:", "true or false"},
	} {
		_, err := loadString(t, "inv.yml", "defaults:\n  "+c.in+"\nhosts:\n  h1: {}\n", LoadOptions{SSHConfig: "none"})
		if err == nil {
			t.Errorf("%s: accepted", c.in)
			continue
		}
		d := diagnostics(t, err)
		got := d[0].String()
		if !strings.Contains(got, c.where) || !strings.Contains(got, c.msg) {
			t.Errorf("%s: %q, want %q and %q", c.in, got, c.where, c.msg)
		}
	}
}
