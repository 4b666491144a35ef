package lab

import (
	"path/filepath"
	"strings"
)

// What a lab agent takes from its netdata.conf besides the web port: its
// node name and its host labels, as Netdata v2.11.0 does.
//
//   - [global] hostname is read once, at start; unset, the host's name
//     (src/libnetdata/runtime-paths/runtime-paths.c:44-56). The lab host's
//     name stands for gethostname(2).
//   - [global] is ephemeral node is read at start and becomes the host label
//     _is_ephemeral = true|false (src/database/rrdhost-labels.c:218-219).
//   - [host labels] is read at start, and again by `netdatacli
//     reload-labels`, which reloads that section only
//     (src/daemon/commands.c:230-242, rrdhost-labels.c:151-161); the
//     [global] keys keep the values read at start.

// hostConf is what the agent read from netdata.conf.
type hostConf struct {
	name   string
	labels map[string]string
}

// readHostConf reads netdata.conf's node name and labels. keepEphemeral,
// when not "", is the _is_ephemeral label kept from the start (a reload
// does not re-read [global]).
func (a *agent) readHostConf(keepEphemeral string) hostConf {
	conf := readINI(filepath.Join(a.h.paths.conf, "netdata.conf"))
	hc := hostConf{name: conf["global.hostname"], labels: map[string]string{}}
	if hc.name == "" {
		hc.name = a.h.name
	}
	for k, v := range conf {
		if name, ok := strings.CutPrefix(k, "host labels."); ok {
			hc.labels[name] = v
		}
	}
	if a.kind() != KindV2 {
		// Not in v1.37.1: [global] is ephemeral node and _is_ephemeral
		// come later (v1.47.5 src/database/rrdhost.c:1433; v2.0.0 too).
		return hc
	}
	eph := keepEphemeral
	if eph == "" {
		eph = "false"
		if iniBool(conf["global.is ephemeral node"]) && conf["global.is ephemeral node"] != "auto" {
			eph = "true"
		}
	}
	hc.labels["_is_ephemeral"] = eph
	return hc
}

// loadHostConf is the agent's start: name and labels from netdata.conf.
func (a *agent) loadHostConf() {
	hc := a.readHostConf("")
	a.mu.Lock()
	a.conf = hc
	a.mu.Unlock()
}

// reloadLabels is `netdatacli reload-labels`: [host labels] again.
func (a *agent) reloadLabels() {
	a.mu.Lock()
	eph := a.conf.labels["_is_ephemeral"]
	if eph == "" {
		eph = "false"
	}
	name := a.conf.name
	a.mu.Unlock()
	hc := a.readHostConf(eph)
	hc.name = name
	a.mu.Lock()
	a.conf = hc
	a.mu.Unlock()
}

// nodeNameLocked is the agent's node name.
func (a *agent) nodeNameLocked() string {
	if a.conf.name != "" {
		return a.conf.name
	}
	return a.h.name
}
