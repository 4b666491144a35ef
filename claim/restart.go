package claim

// claimRestart reads how claimscript.sh restarted an agent that
// netdata-claim.sh claimed but could not tell (exit 5): in the claim's own
// session, then waiting until the agent answered `netdatacli ping`, so that
// the state read next meets the restarted agent ready.
func (r *hostRun) claimRestart(out map[string]string) error {
	rc, restarted := out["restart-rc"]
	if !restarted {
		_, err := serviceCommand(r.facts, r.inst, r.h.Claim.NetdataPrefix != "", "start")
		if err == nil {
			err = fail(CatMethodUnavailable, "no start command")
		}
		return fail(CatAgentNotRunning, "claimed, but the agent could not be told and cannot be restarted: %v", err)
	}
	if rc != "0" {
		return fail(CatAgentNotRunning, "claimed, but the agent did not restart (its start command exited %s)", rc)
	}
	r.res.Plan = append(r.res.Plan, "restarted the agent after its claim (netdata-claim.sh could not tell it)")
	if ready := out["ready-rc"]; ready != "" && ready != "0" {
		return fail(CatAgentNotRunning, "claimed and restarted, but the agent did not answer netdatacli ping (exit %s)", ready)
	}
	return nil
}
