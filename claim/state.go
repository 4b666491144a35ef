package claim

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetclaim/fleetclaim/remote"
)

func (r *Result) setState(st CloudState) {
	on := st.Online
	r.Online = &on
	r.OfflineSince = nil
	if st.Claimed && !st.Online && !st.Since.IsZero() {
		since := st.Since.UTC()
		r.OfflineSince = &since
	}
	if st.ClaimedID != "" {
		if !strings.EqualFold(st.ClaimedID, r.ClaimedID) {
			r.NodeID = "" // a new claim: the node id read before may be stale
		}
		r.ClaimedID = st.ClaimedID
	}
	if st.NodeID != "" {
		r.NodeID = st.NodeID
	}
	if st.NodeName != "" {
		r.NodeName = st.NodeName
	}
	if st.Keys != nil {
		r.Troubleshooting = st.Keys
	}
}

// state reads the agent's Cloud state (stateOnce), asking again while the
// agent answers that it is initializing, as it does right after a start
// (src/daemon/commands.c:682-686 v2.11.0; a v1 agent's /api/v1/info
// answers 503), every agentReadyPoll at most, for at most agentReadyWait.
func (c *Claimer) state(ctx context.Context, r *hostRun) (CloudState, error) {
	deadline := time.Now().Add(agentReadyWait)
	for {
		st, err := c.stateOnce(ctx, r)
		if err == nil && st.Status == "indirect" {
			st = c.ownClaim(ctx, r, st)
		}
		if !errors.Is(err, ErrAgentInitializing) {
			return st, err
		}
		if !time.Now().Before(deadline) {
			return st, fail(CatAgentNotRunning, "the agent was still initializing after %s", agentReadyWait)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(min(c.opts.PollInterval, agentReadyPoll)):
		}
	}
}

// stateOnce reads the agent's Cloud state: the web API through the SSH
// connection first, netdatacli when the API is off or unreachable.
func (c *Claimer) stateOnce(ctx context.Context, r *hostRun) (CloudState, error) {
	if r.ctr != nil {
		return c.containerState(ctx, r)
	}
	if r.inst.WebMode != "none" {
		st, err := r.webState(ctx)
		if err == nil || errors.Is(err, ErrAgentInitializing) || ctx.Err() != nil {
			return st, err
		}
	}
	return r.cliState(ctx)
}

// webState reads the agent's state from its web API, through a forward:
// the one opened during the claim first, if any.
func (r *hostRun) webState(ctx context.Context) (CloudState, error) {
	v1 := apiOrderOf(r.inst)
	// The transport dials from a goroutine of its own.
	var usedEarly atomic.Bool
	dial := func(ctx context.Context) (net.Conn, error) {
		if c, ok, err := r.early.take(ctx); ok {
			usedEarly.Store(true)
			return c, err
		}
		return r.conn.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.inst.WebPort)))
	}
	st, err := apiState(ctx, dial, r.inst.WebPort, v1)
	if err != nil && usedEarly.Load() && ctx.Err() == nil {
		// The forward opened during the claim may have met an agent
		// that restarted since: once more on a new one.
		st, err = apiState(ctx, dial, r.inst.WebPort, v1)
	}
	return st, err
}

// cliState reads the agent's state with `netdatacli aclk-state json`.
func (r *hostRun) cliState(ctx context.Context) (CloudState, error) {
	if r.inst.CLI == "" {
		return CloudState{}, fail(CatCommandNotFound, "cannot read the agent's state: its API is unreachable and netdatacli was not found")
	}
	q := &remote.Quoter{}
	cmd := q.Q(r.inst.CLI) + " aclk-state json"
	if q.Err != nil {
		return CloudState{}, q.Err
	}
	run := remote.Runner(r.conn)
	if r.priv != nil {
		run = r.priv
	}
	res, err := remote.RunScript(ctx, r.use(run), cmd)
	if err != nil {
		return CloudState{}, err
	}
	if res.ExitCode == 255 {
		return CloudState{}, fail(CatAgentNotRunning, "netdatacli cannot reach the agent: %s", remote.Clip(strings.TrimSpace(string(res.Stdout)+" "+string(res.Stderr)), 200))
	}
	return ParseACLKStateJSON(res.Stdout)
}

// claimedAlready is the claim of an agent claimed already (without
// --force): nothing to do when it is online or reachable through its
// parent; else it is given until Wait to come online (a plan says that
// reclaim would start over).
func (c *Claimer) claimedAlready(ctx context.Context, r *hostRun) error {
	st, err := c.state(ctx, r)
	if err != nil {
		return err
	}
	r.res.setState(st)
	switch {
	case st.Status == "indirect" && st.Claimed:
		r.res.Status = StatusAlreadyClaimed
		r.res.Message = "already claimed" + viaParent
		r.res.Plan = append(r.res.Plan, "nothing to do: claimed ("+r.inst.ClaimedID+") and reachable through its parent")
		return nil
	case st.Online:
		r.res.Status = StatusAlreadyClaimed
		r.res.Message = "already claimed and online"
		r.res.Plan = append(r.res.Plan, "nothing to do: claimed ("+r.inst.ClaimedID+") and online")
		return nil
	case r.dry:
		r.res.Status = StatusPlanned
		r.res.Plan = append(r.res.Plan, "nothing to change: claimed but offline; reclaim would start over")
		return nil
	}
	return c.waitOnline(ctx, r, StatusAlreadyClaimed, "already claimed")
}

// openEarly starts opening the forward to the agent's API when the state
// after the claim will be read there: a host (not a container) whose agent
// serves its API, and runs as far as the probe saw (one that does not is
// started or restarted by the claim: the forward would meet no agent, or
// one that stops).
func (c *Claimer) openEarly(ctx context.Context, r *hostRun) {
	if r.ctr == nil && r.inst.WebMode != "none" && r.inst.WebPort > 0 && r.inst.Running == "yes" {
		r.early = openEarlyForward(ctx, r.conn, r.inst.WebPort)
	}
}

// waitOnline polls the agent until it reports online or Wait runs out.
func (c *Claimer) waitOnline(ctx context.Context, r *hostRun, ok Status, what string) error {
	deadline := time.Now().Add(c.opts.Wait)
	for {
		st, err := c.state(ctx, r)
		if err != nil {
			return err
		}
		r.res.setState(st)
		if st.Online {
			r.res.Status = ok
			r.res.Message = what + " and online"
			if r.res.ClaimedID != "" {
				r.res.Message += " (claimed id " + r.res.ClaimedID + ")"
			}
			return nil
		}
		if st.Status == "banned" {
			return fail(CatBanned, "claimed, but Cloud has banned this node")
		}
		if st.Status == "indirect" && st.Claimed {
			r.res.Status = ok
			r.res.Message = what + viaParent
			return nil
		}
		if !st.Claimed {
			return fail(CatClaimFailed, "the agent reports it is not claimed%s", reasonSuffix(st.Reason))
		}
		if !time.Now().Before(deadline) {
			return fail(CatClaimedOffline, "%s, but not online after %s%s", what, c.opts.Wait, reasonSuffix(st.Reason))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// verifyState records the agent's state without changing anything.
func (c *Claimer) verifyState(ctx context.Context, r *hostRun) error {
	st, err := c.state(ctx, r)
	if err != nil {
		return err
	}
	r.res.setState(st)
	switch {
	case st.Status == "indirect" && st.Claimed:
		r.res.Status = StatusAlreadyClaimed
		r.res.Message = "claimed" + viaParent
		return nil
	case st.Online:
		r.res.Status = StatusAlreadyClaimed
		r.res.Message = "claimed and online"
		return nil
	case st.Status == "banned":
		return fail(CatBanned, "claimed, but banned by Cloud")
	case st.Claimed:
		return fail(CatClaimedOffline, "claimed, but offline%s", reasonSuffix(st.Reason))
	}
	return fail(CatClaimFailed, "not claimed%s", reasonSuffix(st.Reason))
}

// An agent that streams to a claimed parent reports "indirect" whether or
// not it is claimed itself (src/claim/cloud-status.c:21-36 v2.11.0).
const (
	viaParent    = ", and reachable through its parent: Cloud sees it over the parent's link (indirect)"
	indirectNote = "Cloud already saw this node through its parent (indirect); fleetclaim claimed it on its own too"
)

// ownClaim completes an "indirect" state with the agent's own claim, which
// the status does not tell: aclk-state json's agent-claimed and claimed-id
// (src/aclk/aclk.c:1249-1257 v2.11.0), else the claimed id the probe found
// in cloud.d.
func (c *Claimer) ownClaim(ctx context.Context, r *hostRun, st CloudState) CloudState {
	st.Claimed, st.ClaimedID = r.inst.Claimed(), r.inst.ClaimedID
	if r.ctr != nil || r.inst.CLI == "" {
		return st
	}
	q := &remote.Quoter{}
	cmd := q.Q(r.inst.CLI) + " aclk-state json"
	run := remote.Runner(r.conn)
	if r.priv != nil {
		run = r.priv
	}
	if q.Err != nil {
		return st
	}
	res, err := remote.RunScript(ctx, run, cmd)
	if err != nil || res.ExitCode != 0 {
		return st
	}
	if own, err := ParseACLKStateJSON(res.Stdout); err == nil {
		st.Claimed, st.ClaimedID = own.Claimed, own.ClaimedID
	}
	return st
}
