package claim

import (
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// decision is the method chosen for a host and what it works on.
type decision struct {
	method string
	inst   *remote.Install   // the install to claim (nil for docker, or kickstart on a bare host)
	ctr    *remote.Container // docker
	// reinstall: kickstart replaces an agent that cannot be claimed.
	reinstall bool
	err       error
}

// kickstartConfigured reports whether the inventory gives kickstart
// anything to go on beyond the defaults, which `method: auto` takes as the
// admin's consent to install.
func kickstartConfigured(k inventory.Kickstart) bool {
	return k.ScriptFile != "" || k.OfflineBundle != "" || k.AllowReinstall
}

// decide picks the method for a host from its facts: the group's method, or
// for `auto` the install's claim generation (claim.conf for v2, the claim
// script for v1), a Netdata container when the host has no agent of its own,
// and kickstart when there is no agent (or one that cannot be claimed and a
// reinstall is allowed) and the inventory configures kickstart.
func decide(h *inventory.Host, f *remote.ProbeFacts) decision {
	want := h.Claim.Method
	if want == "" {
		want = "auto"
	}
	if want == MethodDocker {
		ctr, err := pickContainer(h, f)
		return decision{method: MethodDocker, ctr: ctr, err: err}
	}
	inst, err := pickInstall(f)
	if err != nil {
		switch {
		case want == MethodKickstart:
			return decision{method: MethodKickstart}
		case want == "auto" && CategoryOf(err) == CatNotInstalled:
			if ctr, cerr := pickContainer(h, f); cerr == nil {
				return decision{method: MethodDocker, ctr: ctr}
			}
			if kickstartConfigured(h.Claim.Kickstart) {
				return decision{method: MethodKickstart}
			}
		}
		return decision{err: err}
	}
	method, err := chooseMethod(want, inst)
	if err != nil && CategoryOf(err) == CatUnsupportedInstall && h.Claim.Kickstart.AllowReinstall &&
		(want == "auto" || want == MethodKickstart) {
		return decision{method: MethodKickstart, inst: inst, reinstall: true}
	}
	if want == MethodKickstart && err == nil {
		// The agent is there and can be claimed: nothing to install.
		method, err = chooseMethod("auto", inst)
	}
	return decision{method: method, inst: inst, err: err}
}

// pickContainer finds the Netdata container: the inventory's name, else
// the only running container from a netdata image.
func pickContainer(h *inventory.Host, f *remote.ProbeFacts) (*remote.Container, error) {
	if !f.HasTool("docker") {
		return nil, fail(CatCommandNotFound, "docker is not installed on the host")
	}
	if f.DockerSocket == "denied" && len(f.Containers) == 0 {
		return nil, fail(CatNoPrivilege, "the docker socket is not accessible to %s (add the user to the docker group, or set become: sudo)", orDefault(f.ProbeUser, f.User))
	}
	var found []*remote.Container
	for i := range f.Containers {
		c := &f.Containers[i]
		if name := h.Claim.DockerContainer; name != "" {
			if c.Name == name {
				return c, nil
			}
			continue
		}
		if strings.Contains(c.Image, "netdata") {
			found = append(found, c)
		}
	}
	switch {
	case h.Claim.DockerContainer != "":
		return nil, fail(CatNotInstalled, "no running container named %s", h.Claim.DockerContainer)
	case len(found) == 0:
		return nil, fail(CatNotInstalled, "no running container from a netdata image")
	case len(found) > 1:
		names := make([]string, len(found))
		for i, c := range found {
			names[i] = c.Name
		}
		return nil, fail(CatMethodUnavailable, "several Netdata containers run (%s): set docker_container", strings.Join(names, ", "))
	}
	return found[0], nil
}
