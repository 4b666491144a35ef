package claim

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetclaim/fleetclaim/remote"
)

// installed is what the two methods of an agent installed on the host,
// claim.conf (v2) and netdata-claim.sh (v1), share: one way into each
// mode, one verify and one unclaim. They differ in their claim and their
// reset: a generation.
type installed struct{ inst *remote.Install }

func (b installed) found() *remote.Install { return b.inst }

// generation is what claim.conf and netdata-claim.sh do differently.
type generation interface {
	method
	// claimSteps claims an agent that is not claimed and waits until it
	// is online.
	claimSteps(ctx context.Context, r *hostRun) error
	// resetSteps starts over (stop the agent, remove its claim, claim it
	// again) and waits until it is online; why is the reason, if any.
	resetSteps(ctx context.Context, r *hostRun, why string) error
	// forceResets: --force on a claimed agent starts over, instead of
	// claiming it again.
	forceResets() bool
}

// The step every claim ends with.
const waitLine = "wait until the agent reports online"

// claimWith is the claim mode: a clone is not claimed (or, with
// --new-identity, is reclaimed as a node of its own); a node claimed
// already is left alone unless --force.
func (b installed) claimWith(ctx context.Context, r *hostRun, g generation) error {
	if err := b.privileged(r, r.dry); err != nil {
		return err
	}
	r.c.sweepLeftovers(ctx, r)
	if clone, err := b.clone(ctx, r, g); clone {
		return err
	}
	if err := r.c.settingsStep(ctx, r); err != nil {
		return err
	}
	switch {
	case b.inst.Claimed() && !r.c.opts.Force:
		return r.c.claimedAlready(ctx, r)
	case b.inst.Claimed() && g.forceResets():
		return g.resetSteps(ctx, r, forceReclaimWhy)
	}
	return g.claimSteps(ctx, r)
}

// forceReclaimWhy is why --force reclaims a claimed v2 agent.
const forceReclaimWhy = "--force on a claimed agent, which ignores claim.conf while it holds a claimed id"

// verify records the agent's state. Reading needs no privilege when the
// API answers: its lack is a warning.
func (b installed) verify(ctx context.Context, r *hostRun) error {
	if err := b.privileged(r, true); err != nil {
		return err
	}
	return r.c.verifyState(ctx, r)
}

// reclaimWith is the reclaim mode: the settings, then start over.
func (b installed) reclaimWith(ctx context.Context, r *hostRun, g generation) error {
	if err := b.privileged(r, false); err != nil {
		return err
	}
	r.c.sweepLeftovers(ctx, r)
	if err := r.c.settingsStep(ctx, r); err != nil {
		return err
	}
	return g.resetSteps(ctx, r, "")
}

// reconcileWith brings the host to the desired state and changes nothing
// on a host that is already there: claim what is not claimed, reclaim what
// is claimed to another Cloud url or offline for longer than OfflineFor.
func (b installed) reconcileWith(ctx context.Context, r *hostRun, g generation) error {
	if err := b.privileged(r, false); err != nil {
		return err
	}
	r.c.sweepLeftovers(ctx, r)
	if clone, err := b.clone(ctx, r, g); clone {
		return err
	}
	if err := r.c.settingsStep(ctx, r); err != nil {
		return err
	}
	if !b.inst.Claimed() {
		return g.claimSteps(ctx, r)
	}
	st, err := r.c.state(ctx, r)
	if err != nil {
		return err
	}
	r.res.setState(st)
	return reconcileState(ctx, r, g, st)
}

// reconcileState is reconcile's decision on a claimed agent's state st.
func reconcileState(ctx context.Context, r *hostRun, g generation, st CloudState) error {
	want := r.h.Claim.URL
	switch {
	case st.URL != "" && want != "" && !sameURL(st.URL, want):
		return g.resetSteps(ctx, r, fmt.Sprintf("it was claimed to %s, not %s", st.URL, want))
	case st.Online:
		r.res.Status = StatusAlreadyClaimed
		r.res.Message = "claimed and online"
		return nil
	case st.Status == "indirect" && st.Claimed:
		// Never reclaimed: its own link is offline by design.
		r.res.Status = StatusAlreadyClaimed
		r.res.Message = "claimed" + viaParent
		return nil
	case st.Status == "banned":
		return fail(CatBanned, "claimed, but Cloud has banned this node")
	case !st.Claimed:
		return g.resetSteps(ctx, r, "cloud.d holds a claimed id but the agent is not claimed")
	}
	offline := st.OfflineFor(time.Now())
	if of := r.c.opts.OfflineFor; of > 0 && offline >= of {
		return g.resetSteps(ctx, r, fmt.Sprintf("offline for %s", offline.Round(time.Second)))
	}
	return r.c.waitOnline(ctx, r, StatusAlreadyClaimed, "already claimed")
}

// privileged finds how the claim's commands run (r.priv); lenient, a
// missing privilege is a warning (verify, plan).
func (b installed) privileged(r *hostRun, lenient bool) error {
	var err error
	if r.priv, err = r.privilege(b.inst); err != nil {
		if !lenient {
			return err
		}
		r.res.Warnings = append(r.res.Warnings, err.Error())
	}
	return nil
}

// clone reports a machine GUID already seen on another host of this run
// (or of an earlier one): not claimed (clones replace each other in
// Cloud), or with --new-identity reclaimed as a node of its own.
func (b installed) clone(ctx context.Context, r *hostRun, g generation) (bool, error) {
	other, run := r.c.guids.register(b.inst.MachineGUID, r.h.Name)
	if other == "" {
		return false, nil
	}
	r.res.DuplicateOf, r.res.DuplicateRun = other, run
	if run != "" {
		other += " (in run " + run + ")"
	}
	if !r.c.opts.NewIdentity {
		return true, fail(CatDuplicateGUID, "machine GUID %s is also the GUID of %s: not claimed (clones replace each other in Cloud)", b.inst.MachineGUID, other)
	}
	r.res.Warnings = append(r.res.Warnings, "machine GUID shared with "+other+": claimed with a new identity")
	return true, g.resetSteps(ctx, r, "machine GUID shared with "+other+", new identity")
}

// claimAndWait is the claim of an installed agent, in two steps: its claim
// script (plan says what it does), then the wait until online. planned is
// a plan's message.
func (r *hostRun) claimAndWait(ctx context.Context, plan []string, claim func() error, planned string) error {
	r.planAs(r.priv)
	defer func() { r.early.close() }()
	err := r.wet("claim", plan, func() error {
		r.c.openEarly(ctx, r)
		r.use(r.priv)
		return claim()
	})
	if err != nil {
		return err
	}
	if err := r.wet("verify", []string{waitLine}, func() error { return r.c.waitOnline(ctx, r, StatusClaimed, "claimed") }); err != nil {
		return err
	}
	r.planned(planned)
	return nil
}
