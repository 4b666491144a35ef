package claim

import (
	"context"
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// A method is how one host's agent is claimed: claim.conf (v2, confMethod),
// netdata-claim.sh (v1, scriptMethod), kickstart (kickstartMethod), or a
// container's agent (dockerMethod); undecided when none fits. decide
// picks it from the probe's facts. Each method owns its steps, each
// written once as a plan line next to its action (hostRun.wet), and takes
// the run's mode: its operations below are the modes, which hostRun.act
// alone chooses between. A plan is the claim mode, dry.
type method interface {
	// name is the method's name in the host's record (Result.Method).
	name() string
	// found is the agent install the method works on: nil for a container
	// (whose agent is found inside it) and for kickstart on a bare host.
	found() *remote.Install
	// settings says what becomes of the inventory's netdata.conf settings
	// (hostname, ephemeral, labels) with this method: a warning, or an
	// error when it refuses them.
	settings(h *inventory.Host) (warning string, err error)
	claim(ctx context.Context, r *hostRun) error
	verify(ctx context.Context, r *hostRun) error
	// reclaim starts over: stop the agent, remove its claim, claim again.
	reclaim(ctx context.Context, r *hostRun) error
	reconcile(ctx context.Context, r *hostRun) error
	unclaim(ctx context.Context, r *hostRun) error
}

// Methods, as records and the inventory name them.
const (
	MethodClaimConf   = "claim-conf"
	MethodClaimScript = "claim-script"
	MethodKickstart   = "kickstart"
	MethodDocker      = "docker"
)

// undecided is a host that no method claims: why says so. inst, when set,
// is the install found, whose claim unclaim still removes; label is the
// method the inventory asked for, if any.
type undecided struct {
	installed
	label string
	why   error
}

func (u undecided) name() string                              { return u.label }
func (u undecided) claim(context.Context, *hostRun) error     { return u.why }
func (u undecided) verify(context.Context, *hostRun) error    { return u.why }
func (u undecided) reclaim(context.Context, *hostRun) error   { return u.why }
func (u undecided) reconcile(context.Context, *hostRun) error { return u.why }

// unclaim removes the claim of the install found, if any; with none, a
// host without an agent has nothing to unclaim.
func (u undecided) unclaim(ctx context.Context, r *hostRun) error {
	if u.inst != nil {
		return u.installed.unclaim(ctx, r)
	}
	if u.why != nil && CategoryOf(u.why) != CatNotInstalled {
		return u.why
	}
	return r.nothingToUnclaim()
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
// reinstall is allowed) and the inventory configures kickstart. The error
// says why the method cannot claim the host.
func decide(h *inventory.Host, f *remote.ProbeFacts) (method, error) {
	want := orDefault(h.Claim.Method, "auto")
	if want == MethodDocker {
		ctr, err := pickContainer(h, f)
		return dockerMethod{ctr: ctr}, err
	}
	inst, err := pickInstall(f)
	if err != nil {
		return decideBare(h, f, want, err)
	}
	m, err := chooseMethod(want, inst)
	if err != nil && CategoryOf(err) == CatUnsupportedInstall && h.Claim.Kickstart.AllowReinstall &&
		(want == "auto" || want == MethodKickstart) {
		return kickstartMethod{installed: installed{inst}, reinstall: true}, nil
	}
	return m, err
}

// decideBare is the method for a host where no claimable install was
// found (why): kickstart when asked for or configured, a container's
// agent for `auto`.
func decideBare(h *inventory.Host, f *remote.ProbeFacts, want string, why error) (method, error) {
	switch {
	case want == MethodKickstart:
		return kickstartMethod{}, nil
	case want == "auto" && CategoryOf(why) == CatNotInstalled:
		if ctr, err := pickContainer(h, f); err == nil {
			return dockerMethod{ctr: ctr}, nil
		}
		if kickstartConfigured(h.Claim.Kickstart) {
			return kickstartMethod{}, nil
		}
	}
	return undecided{why: why}, why
}

// pickInstall chooses the install to claim: the first one with the agent's
// tools present.
func pickInstall(f *remote.ProbeFacts) (*remote.Install, error) {
	if len(f.Installs) == 0 {
		return nil, fail(CatNotInstalled, "no Netdata Agent found on the host")
	}
	for i := range f.Installs {
		in := &f.Installs[i]
		if in.Binary != "" && (in.CLI != "" || in.ClaimScript != "") {
			return in, nil
		}
	}
	in := &f.Installs[0]
	return nil, fail(CatCommandNotFound, "a Netdata configuration exists in %s but netdatacli and netdata-claim.sh were not found", in.ConfigDir)
}

// chooseMethod picks the claim method for an install: its generation's
// for `auto` (and for kickstart, which has nothing to install then), else
// the one asked for when the install has its tool.
func chooseMethod(want string, in *remote.Install) (method, error) {
	if in.CloudSupport == "no" {
		return refuse(in, "", fail(CatUnsupportedInstall, "agent %s (%s: binary %s, config %s, var lib %s, run as %s) was built without Netdata Cloud support and cannot be claimed",
			orDefault(in.Version, "of unknown version"), installTypeOr(in), orDefault(in.Binary, "not found"), in.ConfigDir, in.VarLibDir, in.RunAsUser))
	}
	switch want {
	case MethodClaimConf:
		if in.CLI == "" {
			return refuse(in, want, fail(CatCommandNotFound, "netdatacli not found next to %s", in.Binary))
		}
		return confMethod{installed{in}}, nil
	case MethodClaimScript:
		return scriptMethod{installed{in}}, nil
	}
	gen := in.ClaimGeneration
	if gen == 0 && remote.Major(in.Version) >= 2 {
		gen = 2
	}
	switch {
	case gen == 2 && in.CLI != "":
		return confMethod{installed{in}}, nil
	case gen == 1:
		return scriptMethod{installed{in}}, nil
	case in.CLI != "":
		return confMethod{installed{in}}, nil
	}
	return refuse(in, "", fail(CatCommandNotFound, "no netdata-claim.sh or netdatacli in %s", in.ConfigDir))
}

// refuse is the undecided method of an install that cannot be claimed.
func refuse(in *remote.Install, label string, why error) (method, error) {
	return undecided{installed: installed{in}, label: label, why: why}, why
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
