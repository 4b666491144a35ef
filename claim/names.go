package claim

import (
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// predictedNodeName is the name a host's node will get in Cloud, known
// before the claim: the inventory's
// hostname, else netdata.conf's [global] hostname, else the host's own
// name (Netdata v2.11.0 src/libnetdata/runtime-paths/runtime-paths.c:50-54).
func predictedNodeName(r *hostRun) string {
	switch {
	case r.h.Claim.Hostname != "":
		return r.h.Claim.Hostname
	case r.inst != nil && r.inst.ConfHostname != "":
		return r.inst.ConfHostname
	}
	return r.facts.Hostname
}

// spaceKey names the Space a host is claimed to: its Cloud url and Space,
// or its claim token's source when the inventory names no Space.
func spaceKey(h *inventory.Host) string {
	return strings.ToLower(h.Claim.URL) + "\x00" + h.Claim.Space + "\x00" + h.Claim.Token.String()
}

// checkNodeName warns, before the claim, when another host of this run
// would give its node the same name in the same Space: Cloud would list
// two nodes of that name.
func (c *Claimer) checkNodeName(r *hostRun) {
	switch c.opts.Mode {
	case ModeClaim, ModePlan, ModeReclaim, ModeReconcile:
	default:
		return
	}
	name := predictedNodeName(r)
	if name == "" {
		return
	}
	if other, _ := c.names.register(spaceKey(r.h)+"\x00"+strings.ToLower(name), r.h.Name); other != "" {
		r.res.Warnings = append(r.res.Warnings, "node name "+name+" is also the node name of "+other+" in the same Space: Cloud will list two nodes named "+name+" (set hostname: for one of them)")
	}
}

// DuplicateNodeNames finds, before any host is contacted, the hosts whose
// inventory hostname gives two nodes of one Space the same name, one
// message per host after the first of a name.
func DuplicateNodeNames(hosts []*inventory.Host) []string {
	first := map[string]string{}
	var out []string
	for _, h := range hosts {
		if h.Claim.Hostname == "" {
			continue
		}
		k := spaceKey(h) + "\x00" + strings.ToLower(h.Claim.Hostname)
		if other, ok := first[k]; ok {
			out = append(out, "hosts "+other+" and "+h.Name+" both set hostname "+h.Claim.Hostname+" ("+h.Sources["hostname"]+"): Cloud will list two nodes of that name in one Space")
			continue
		}
		first[k] = h.Name
	}
	return out
}
