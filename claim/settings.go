package claim

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// netdata.conf sections and keys fleetclaim sets (Netdata v2.11.0:
// src/libnetdata/inicfg/inicfg.h:101 CONFIG_SECTION_HOST_LABEL; "is
// ephemeral node", src/database/rrdhost-labels.c:218; "hostname",
// src/libnetdata/runtime-paths/runtime-paths.c:54).
const (
	sectionGlobal     = "global"
	sectionHostLabels = "host labels"
	keyEphemeral      = "is ephemeral node"
	keyHostname       = "hostname"
)

// confSetting is one netdata.conf key the inventory asks for.
type confSetting struct{ section, key, value string }

// confSettings are the netdata.conf keys of a host's inventory for an
// installed agent: the node name, ephemeral and labels. v2's claim script
// says "-hostname option is no longer supported", so the name is [global]
// hostname; on v1 too, although its claim script still takes -hostname=
// (which fleetclaim passes): the agent sends its own host name as the
// node's name each time it connects (node_info.data.name =
// rrdhost_hostname(host), database/sqlite/sqlite_aclk_node.c:87 v1.37.1;
// [global] hostname, daemon/main.c:619), which would undo -hostname=.
func confSettings(h *inventory.Host) []confSetting {
	var out []confSetting
	if h.Claim.Hostname != "" {
		out = append(out, confSetting{sectionGlobal, keyHostname, h.Claim.Hostname})
	}
	if e := h.Claim.Ephemeral; e != nil {
		out = append(out, confSetting{sectionGlobal, keyEphemeral, fmtBool(*e)})
	}
	for _, l := range h.Claim.Labels {
		out = append(out, confSetting{sectionHostLabels, l.Name, l.Value})
	}
	return out
}

// hasConfSettings reports whether the inventory asks for any netdata.conf
// setting, whatever the method.
func hasConfSettings(h *inventory.Host) bool {
	return h.Claim.Hostname != "" || h.Claim.Ephemeral != nil || len(h.Claim.Labels) > 0
}

// settings: an installed agent takes the inventory's netdata.conf
// settings (settingsStep), with its claim.
func (installed) settings(*inventory.Host) (string, error) { return "", nil }

// settings: a container's netdata.conf is not fleetclaim's to change.
func (dockerMethod) settings(h *inventory.Host) (string, error) {
	if hasConfSettings(h) {
		return "", fail(CatMethodUnavailable, "hostname, ephemeral and labels are not set inside a container by fleetclaim (its netdata.conf goes with the image): "+
			"give the container its host name (docker run --hostname) and mount a netdata.conf with [global] is ephemeral node and [host labels]")
	}
	return "", nil
}

// settings: the agent kickstart installs gets its netdata.conf settings
// from the next run.
func (kickstartMethod) settings(h *inventory.Host) (string, error) {
	if hasConfSettings(h) {
		return "hostname, ephemeral and labels are written to an installed agent's netdata.conf: they are applied by the next run (reconcile), once kickstart installed it", nil
	}
	return "", nil
}

// settingsPlan is what plan shows for the settings.
func settingsPlan(in *remote.Install, set []confSetting) []string {
	if len(set) == 0 {
		return nil
	}
	parts := make([]string, len(set))
	restart := false
	for i, s := range set {
		parts[i] = fmt.Sprintf("[%s] %s = %s", s.section, s.key, s.value)
		restart = restart || s.section == sectionGlobal
	}
	how := "netdatacli reload-labels when a label changes"
	if restart {
		how = "restart the agent when a [global] key changes, else netdatacli reload-labels when a label changes"
	}
	return []string{fmt.Sprintf("netdata.conf (%s/netdata.conf): set %s, keeping every other line; %s; nothing when unchanged",
		in.ConfigDir, strings.Join(parts, ", "), how)}
}

// settingsStep writes the inventory's netdata.conf settings for an
// installed agent, when there are any, before its claim.
func (c *Claimer) settingsStep(ctx context.Context, r *hostRun) error {
	set := confSettings(r.h)
	if len(set) == 0 {
		return nil
	}
	return r.wet("netdata-conf", settingsPlan(r.inst, set), func() error { return c.applySettings(ctx, r, set) })
}

// applySettings writes the host's netdata.conf settings (netdataconf.sh)
// and makes the agent take them: a restart for [global] keys, a label
// reload for labels, nothing when nothing changed. The record says what
// changed.
func (c *Claimer) applySettings(ctx context.Context, r *hostRun, set []confSetting) error {
	r.res.Ephemeral = r.h.Claim.Ephemeral
	if len(set) == 0 {
		return nil
	}
	restart := ""
	if r.inst.Running != "no" {
		var err error
		if restart, err = serviceCommand(r.facts, r.inst, r.h.Claim.NetdataPrefix != "", "restart"); err != nil {
			return err
		}
	}
	script, err := hostScript(netdataConfCode)
	if err != nil {
		return err
	}
	args := []string{r.inst.ConfigDir, r.inst.CLI, restart}
	for _, s := range set {
		if err := checkINIValue(s.key, s.value); err != nil {
			return err
		}
		args = append(args, s.section, s.key, s.value)
	}
	res, err := remote.RunScript(ctx, r.priv, script, args...)
	if err != nil {
		return err
	}
	return r.settingsApplied(res, restart)
}

// settingsApplied reads what netdataconf.sh printed: the keys it changed
// (into the record), and whether the agent took them.
func (r *hostRun) settingsApplied(res remote.Result, restart string) error {
	out := parseKV(res.Stdout)
	if e := out["fleetclaim-error"]; e != "" {
		return scriptError(e, res)
	}
	if out["unchanged"] != "1" && out["changed"] == "" {
		return fail(CatWriteFailed, "the netdata.conf script did not finish (exit %d): %s", res.ExitCode, remote.Clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	r.res.NetdataConf = outLines(res.Stdout, "changed=")
	switch {
	case out["restart-rc"] != "" && out["restart-rc"] != "0":
		return fail(CatAgentNotRunning, "netdata.conf changed (%s), but the agent did not restart (exit %s)", strings.Join(r.res.NetdataConf, ", "), out["restart-rc"])
	case out["ping-rc"] != "" && out["ping-rc"] != "0":
		return fail(CatAgentNotRunning, "netdata.conf changed (%s) and the agent restarted, but it did not answer netdatacli ping (exit %s)", strings.Join(r.res.NetdataConf, ", "), out["ping-rc"])
	case out["reload-labels-rc"] != "" && out["reload-labels-rc"] != "0":
		r.res.Warnings = append(r.res.Warnings, "netdata.conf labels changed, but netdatacli reload-labels failed (exit "+out["reload-labels-rc"]+"): the agent takes them at its next start")
	}
	if len(r.res.NetdataConf) > 0 && restart == "" {
		r.res.Warnings = append(r.res.Warnings, "netdata.conf changed while the agent is stopped: it takes the change when it starts")
	}
	if e := r.h.Claim.Ephemeral; e != nil && *e && r.inst.ClaimGeneration == 1 && remote.Major(r.inst.Version) < 2 && olderThan(r.inst.Version, 1, 47) {
		r.res.Warnings = append(r.res.Warnings, "agent "+r.inst.Version+" may predate [global] is ephemeral node (v1.37.1 does not read it, v1.47.5 does): written, but it may have no effect until the agent is upgraded")
	}
	return nil
}

// olderThan reports whether version v (e.g. "1.37.1", "v1.44.3") is
// before major.minor; an unreadable version is not.
func olderThan(v string, major, minor int) bool {
	var a, b int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d", &a, &b); err != nil {
		return false
	}
	return a < major || a == major && b < minor
}
