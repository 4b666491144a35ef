package claim

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// resetPlan is how a reclaim starts over on a host.
type resetPlan struct {
	Stop, Start string
	// NewIdentity also removes the machine GUID, so a cloned machine
	// becomes a node of its own.
	NewIdentity bool
}

// reclaim removes the node's claim and claims it again: stop the agent,
// remove cloud.d (and the machine GUID with --new-identity), write the claim
// settings, start the agent, reload, wait until online. why, when set, is
// the reason reconcile chose to reclaim.
func (c *Claimer) reclaim(ctx context.Context, r *hostRun, method, why string) error {
	pinned := r.h.Claim.NetdataPrefix != ""
	stop, err := serviceCommand(r.facts, r.inst, pinned, "stop")
	if err != nil {
		return err
	}
	start, err := serviceCommand(r.facts, r.inst, pinned, "start")
	if err != nil {
		return err
	}
	old := r.inst.ClaimedID
	if c.opts.Mode == ModePlan {
		r.res.Status = StatusPlanned
		r.res.Plan = []string{r.describe(r.priv), "stop the agent (" + stop + ")", "remove " + r.inst.VarLibDir + "/cloud.d"}
		if why != "" {
			r.res.Plan = append(r.res.Plan, "reclaim: "+why)
		}
		if c.opts.NewIdentity {
			r.res.Plan = append(r.res.Plan, "remove the machine GUID and every copy of status-netdata.json")
		}
		if method == MethodClaimScript {
			r.res.Plan = append(r.res.Plan, "start the agent ("+start+")")
			r.res.Plan = append(r.res.Plan, claimScriptPlan(r.h, r.inst, c.opts.NewIdentity)...)
		} else {
			r.res.Plan = append(r.res.Plan, claimConfPlan(r.h, r.inst)...)
		}
		return nil
	}
	switch method {
	case MethodClaimConf:
		// The script already runs with the claim's privilege.
		reset := &resetPlan{Stop: stop, Start: start, NewIdentity: c.opts.NewIdentity}
		if err := r.step("reclaim", func() error { r.use(r.priv); return c.claimConf(ctx, r, reset) }); err != nil {
			return err
		}
	case MethodClaimScript:
		reset := &resetPlan{Stop: stop, Start: start, NewIdentity: c.opts.NewIdentity}
		if err := r.step("reclaim", func() error { r.use(r.priv); return c.claimScript(ctx, r, reset) }); err != nil {
			return err
		}
	default:
		return fail(CatMethodUnavailable, "reclaim with method %s is not available in this version of fleetclaim", method)
	}
	what := "reclaimed"
	if why != "" {
		what = "reclaimed (" + why + ")"
	}
	if err := r.step("verify", func() error { return c.waitOnline(ctx, r, StatusReclaimed, what) }); err != nil {
		return err
	}
	if old != "" && r.res.ClaimedID != "" && old != r.res.ClaimedID {
		r.res.Message += "; previous claimed id " + old
	}
	return nil
}

// reconcile brings one host to the desired state and changes nothing on a
// host that is already there: claim what is not claimed, reclaim what is
// claimed to another Cloud url or offline for longer than OfflineFor.
func (c *Claimer) reconcile(ctx context.Context, r *hostRun, method string) error {
	if !r.inst.Claimed() {
		c2 := *c
		c2.opts.Mode = ModeClaim
		return c2.claim(ctx, r, method)
	}
	st, err := c.state(ctx, r)
	if err != nil {
		return err
	}
	r.res.setState(st)
	want := r.h.Claim.URL
	switch {
	case st.URL != "" && want != "" && !sameURL(st.URL, want):
		return c.reclaim(ctx, r, method, fmt.Sprintf("it was claimed to %s, not %s", st.URL, want))
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
		return c.reclaim(ctx, r, method, "cloud.d holds a claimed id but the agent is not claimed")
	}
	offline := st.OfflineFor(time.Now())
	if c.opts.OfflineFor > 0 && offline >= c.opts.OfflineFor {
		return c.reclaim(ctx, r, method, fmt.Sprintf("offline for %s", offline.Round(time.Second)))
	}
	return c.waitOnline(ctx, r, StatusAlreadyClaimed, "already claimed")
}

// sameURL compares Cloud urls loosely: scheme and host case, trailing slash.
func sameURL(a, b string) bool {
	norm := func(s string) string { return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), "/") }
	return norm(a) == norm(b)
}
