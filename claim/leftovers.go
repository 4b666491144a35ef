package claim

import (
	"context"
	"path"

	"github.com/fleetclaim/fleetclaim/remote"
)

// leftoversPlan is the plan line of sweepLeftovers.
const leftoversPlan = "remove what a cut-off claim left: its temporary files and cloud.d/token"

// sweepLeftovers removes what a claim cut off where no trap ran (SIGKILL,
// a reboot) left on the host, as the probe saw it: temporary directories
// and files that may hold the token, and v1's cloud.d/token. It runs before
// anything else the mode does, on a host to claim and on one already
// claimed alike; verify only reads and leaves them. In plan mode it returns
// its plan line instead. A sweep that fails is a warning, not the host's
// failure.
func (c *Claimer) sweepLeftovers(ctx context.Context, r *hostRun) (plan string) {
	if r.inst == nil || !r.inst.Leftover || r.priv == nil || c.opts.Mode == ModeVerify {
		return ""
	}
	if c.opts.Mode == ModePlan {
		return leftoversPlan
	}
	_ = r.step("cleanup", func() error {
		r.use(r.priv)
		res, err := remote.RunScript(ctx, r.priv, tokenCleanupScript, path.Join(r.inst.VarLibDir, "cloud.d"), r.inst.ConfigDir)
		if err != nil || parseKV(res.Stdout)["token-removed"] != "1" {
			r.res.Warnings = append(r.res.Warnings, "a cut-off claim left temporary files that could not be confirmed removed")
			return nil
		}
		r.res.Warnings = append(r.res.Warnings, "removed what a cut-off claim left: its temporary files and cloud.d/token")
		return nil
	})
	return ""
}
