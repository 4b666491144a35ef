package claim

import (
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// hostRun is the state of one host's run.
type hostRun struct {
	c   *Claimer
	h   *inventory.Host
	res *Result
	// mode is what the run does to the host (claim, verify, reclaim,
	// reconcile, unclaim); dry says it only plans it (ModePlan): its
	// changing steps record their plan lines and do not run (wet).
	mode  Mode
	dry   bool
	conn  Conn
	facts *remote.ProbeFacts
	inst  *remote.Install
	// become is the inventory's sudo/doas (nil when none is configured);
	// becomeErr is why it failed when the probe tried it (the probe then
	// ran as the login user).
	become    remote.Runner
	becomeErr error
	// probeRun is the runner the facts were gathered with: facts that
	// depend on permissions hold for it, not for another.
	probeRun remote.Runner
	// priv runs commands with the privilege the claim needs: become when
	// it works, else the connection itself when the login user is root or
	// the agent's run-as user.
	priv remote.Runner
	// ran is the runner the current step's commands ran with (nil: none
	// but the login connection's).
	ran remote.Runner
	// ctr and dockerRun: the container of the docker method, and the
	// runner that may use docker.
	ctr       *remote.Container
	dockerRun remote.Runner
	// early is the forward to the agent's API opened while the claim runs
	// (nil when there is none).
	early *earlyForward
}

// setInstall makes in the install the run works on and records it.
func (r *hostRun) setInstall(in *remote.Install) {
	r.inst = in
	r.res.AgentVersion = in.Version
	r.res.InstallType = installTypeOr(in)
	r.res.RunAsUser = in.RunAsUser
	r.res.MachineGUID = in.MachineGUID
	r.res.ClaimedID = in.ClaimedID
}

// step runs one timed phase that changes nothing (connect, probe) and
// records it, in a plan as in a claim.
func (r *hostRun) step(name string, f func() error) error {
	return r.timed(name, nil, f)
}

// wet is one step that changes the host, written once: plan is what it
// does in the words of a plan, f does it. A plan (dry) run records the
// lines and does not run f; any other runs f as a timed step that keeps
// the lines, so that what a plan says and what a claim does cannot
// differ.
func (r *hostRun) wet(name string, plan []string, f func() error) error {
	if r.dry {
		r.res.Status = StatusPlanned
		r.res.Plan = append(r.res.Plan, plan...)
		return nil
	}
	return r.timed(name, plan, f)
}

// timed runs f and records it as a step, with the user and the wrapper its
// commands ran with (what f passed to r.use).
func (r *hostRun) timed(name string, plan []string, f func() error) error {
	start := time.Now()
	r.ran = nil
	err := f()
	as, via := r.who(r.ran)
	r.res.Steps = append(r.res.Steps, Step{Name: name, Millis: time.Since(start).Milliseconds(), As: as, Via: via, plan: plan})
	return err
}

// planAs starts a plan's steps with the line saying how their commands
// would run (a claim records that in each step's As and Via).
func (r *hostRun) planAs(run remote.Runner) {
	if r.dry {
		r.res.Plan = append(r.res.Plan, r.describe(run))
	}
}

// planned sets a plan's message, what the run would do.
func (r *hostRun) planned(msg string) {
	if r.dry {
		r.res.Status = StatusPlanned
		r.res.Message = msg
	}
}

// use notes that the current step runs commands with run, and returns it.
func (r *hostRun) use(run remote.Runner) remote.Runner {
	r.ran = run
	return run
}

// who names the user and the wrapper a runner runs commands with: the
// login user and "none" for the connection itself.
func (r *hostRun) who(run remote.Runner) (as, via string) {
	login := r.h.User
	if r.facts != nil && r.facts.User != "" {
		login = r.facts.User
	}
	if run == nil {
		return login, "none"
	}
	m, u := remote.BecomeOf(run)
	switch {
	case m == "none":
		return login, "none"
	case u == "":
		return "root", m
	}
	return u, m
}

// describe is the plan's line saying how the claim's commands would run.
func (r *hostRun) describe(run remote.Runner) string {
	as, via := r.who(run)
	login, _ := r.who(nil)
	if via == "none" {
		return "run as " + as + " (the login user, no sudo/doas)"
	}
	return "run as " + as + " via " + via + " (logged in as " + login + ")"
}

// privilege decides how the claim's commands run, on the login user's
// facts: through become when it is configured and worked for the probe
// (as root, or as become_user when that is the agent's run-as user), else
// directly when the login user is root or the agent's run-as user.
func (r *hostRun) privilege(in *remote.Install) (remote.Runner, error) {
	f := r.facts
	if r.become != nil && r.becomeErr == nil {
		if u := r.h.BecomeUser; u != "" && u != "root" && u != in.RunAsUser {
			return nil, fail(CatNoPrivilege, "become_user %s is neither root nor the agent's run-as user %s", u, in.RunAsUser)
		}
		return r.become, nil
	}
	if f.Root() || (f.User != "" && f.User == in.RunAsUser) {
		return r.conn, nil
	}
	if r.becomeErr != nil {
		return nil, &Error{Category: CategoryOf(r.becomeErr), Msg: "logged in as " + orDefault(f.User, "an unknown user") + ", and " + r.h.Become + " refused", Err: r.becomeErr}
	}
	return nil, fail(CatNoPrivilege, "logged in as %s, but claiming needs root or the agent's run-as user %s (set become: sudo, or log in as %s)", f.User, in.RunAsUser, in.RunAsUser)
}
