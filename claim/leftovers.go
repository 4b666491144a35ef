package claim

import "context"

// leftoversPlan is the plan line of sweepLeftovers.
const leftoversPlan = "remove what a cut-off claim left: its temporary files and cloud.d/token"

// sweepLeftovers removes what a claim cut off where no trap ran (SIGKILL,
// a reboot) left on the host, as the probe saw it: temporary directories
// and files that may hold the token, and v1's cloud.d/token. The modes
// that change an installed agent run it before anything else, on a host
// to claim and on one already claimed alike; verify only reads and leaves
// them. A sweep that fails is a warning, not the host's failure.
func (c *Claimer) sweepLeftovers(ctx context.Context, r *hostRun) {
	if !r.inst.Leftover || r.priv == nil {
		return
	}
	_ = r.wet("cleanup", []string{leftoversPlan}, func() error {
		r.use(r.priv)
		if !r.cleanupToken(ctx) {
			r.res.Warnings = append(r.res.Warnings, "a cut-off claim left temporary files that could not be confirmed removed")
			return nil
		}
		r.res.Warnings = append(r.res.Warnings, "removed what a cut-off claim left: its temporary files and cloud.d/token")
		return nil
	})
}
