package claim

import (
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// TestNodeNameCollisions: the node name is the inventory's hostname, else
// netdata.conf's [global] hostname, else the host's own; two hosts of one
// Space with one name warn on the second, naming the first; another Space
// or another name does not. The inventory-level check names both hosts.
func TestNodeNameCollisions(t *testing.T) {
	c := New(nil, Options{Mode: ModeClaim})
	run := func(name, setting, conf, own, space string) *hostRun {
		h := &inventory.Host{Name: name, Claim: inventory.Claim{Hostname: setting, URL: "https://app.netdata.cloud", Space: space}}
		r := &hostRun{h: h, res: &Result{}, facts: &remote.ProbeFacts{Hostname: own}, inst: &remote.Install{ConfHostname: conf}}
		c.checkNodeName(r)
		return r
	}
	if r := run("a", "", "", "web", "s1"); len(r.res.Warnings) != 0 {
		t.Errorf("first host warned: %v", r.res.Warnings)
	}
	if r := run("b", "", "WEB", "b-own", "s1"); len(r.res.Warnings) != 1 || !strings.Contains(r.res.Warnings[0], "also the node name of a") {
		t.Errorf("conf hostname WEB after a's own web: %v", r.res.Warnings)
	}
	if r := run("c", "web", "", "x", "s2"); len(r.res.Warnings) != 0 {
		t.Errorf("another Space warned: %v", r.res.Warnings)
	}
	if r := run("d", "db", "web", "web", "s1"); len(r.res.Warnings) != 0 {
		t.Errorf("the hostname setting wins over the others: %v", r.res.Warnings)
	}
	v := New(nil, Options{Mode: ModeVerify})
	r := &hostRun{h: &inventory.Host{Name: "e"}, res: &Result{}, facts: &remote.ProbeFacts{Hostname: "web"}}
	v.checkNodeName(r)
	v.checkNodeName(&hostRun{h: &inventory.Host{Name: "f"}, res: r.res, facts: &remote.ProbeFacts{Hostname: "web"}})
	if len(r.res.Warnings) != 0 {
		t.Errorf("verify warned: %v", r.res.Warnings)
	}

	hosts := []*inventory.Host{
		{Name: "h1", Claim: inventory.Claim{Hostname: "n"}, Sources: map[string]string{"hostname": "inv.yml:3:5"}},
		{Name: "h2", Claim: inventory.Claim{Hostname: "x"}},
		{Name: "h3", Claim: inventory.Claim{Hostname: "N"}, Sources: map[string]string{"hostname": "inv.yml:9:5"}},
	}
	got := DuplicateNodeNames(hosts)
	if len(got) != 1 || !strings.Contains(got[0], "hosts h1 and h3 both set hostname N") {
		t.Errorf("DuplicateNodeNames: %q", got)
	}
}
