package claim

import (
	"context"
	"strings"
)

// resetPlan is how a reclaim starts over on a host.
type resetPlan struct {
	Stop, Start string
	// NewIdentity also removes the machine GUID, so a cloned machine
	// becomes a node of its own.
	NewIdentity bool
}

// resetFor is a reclaim's reset of the host's agent: its service's stop
// and start commands, and --new-identity.
func (r *hostRun) resetFor() (*resetPlan, error) {
	pinned := r.h.Claim.NetdataPrefix != ""
	stop, err := serviceCommand(r.facts, r.inst, pinned, "stop")
	if err != nil {
		return nil, err
	}
	start, err := serviceCommand(r.facts, r.inst, pinned, "start")
	if err != nil {
		return nil, err
	}
	return &resetPlan{Stop: stop, Start: start, NewIdentity: r.c.opts.NewIdentity}, nil
}

// lines are the plan lines of a reset, before the claim's own: stop the
// agent, remove cloud.d (and the machine GUID with a new identity). why
// is the reason for the reclaim, when there is one.
func (p *resetPlan) lines(r *hostRun, why string) []string {
	out := []string{"stop the agent (" + p.Stop + ")", "remove " + r.inst.VarLibDir + "/cloud.d"}
	if why != "" {
		out = append(out, "reclaim: "+why)
	}
	if p.NewIdentity {
		out = append(out, "remove the machine GUID and every copy of status-netdata.json")
	}
	return out
}

// resetAndWait is a reclaim of an installed agent in two steps: the reset
// with its claim (one script; plan says what it does), then the wait
// until online, which names the previous claimed id when it changed.
func (r *hostRun) resetAndWait(ctx context.Context, why string, plan []string, reset func() error) error {
	old := r.inst.ClaimedID
	r.planAs(r.priv)
	// The script already runs with the claim's privilege.
	if err := r.wet("reclaim", plan, func() error { r.use(r.priv); return reset() }); err != nil {
		return err
	}
	what := "reclaimed"
	if why != "" {
		what = "reclaimed (" + why + ")"
	}
	if err := r.wet("verify", []string{waitLine}, func() error { return r.c.waitOnline(ctx, r, StatusReclaimed, what) }); err != nil {
		return err
	}
	if !r.dry && old != "" && r.res.ClaimedID != "" && old != r.res.ClaimedID {
		r.res.Message += "; previous claimed id " + old
	}
	return nil
}

// sameURL compares Cloud urls loosely: scheme and host case, trailing slash.
func sameURL(a, b string) bool {
	norm := func(s string) string { return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), "/") }
	return norm(a) == norm(b)
}
