package claim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// Conn is an open connection to one host.
type Conn interface {
	remote.Runner
	Close() error
}

// Connector opens the one connection a host's run uses.
type Connector interface {
	Connect(ctx context.Context, h *inventory.Host) (Conn, error)
}

// Mode is what a run does to each host.
type Mode string

const (
	ModeClaim  Mode = "claim"
	ModePlan   Mode = "plan"
	ModeVerify Mode = "verify"
	// ModeReclaim starts over: stop the agent, remove cloud.d, start it,
	// claim again.
	ModeReclaim Mode = "reclaim"
	// ModeReconcile verifies, claims what is not claimed and reclaims what
	// is claimed to the wrong Cloud or offline for too long.
	ModeReconcile Mode = "reconcile"
	// ModeUnclaim removes the claim: stop the agent, remove its claim
	// state, start it; with a Cloud API token, the node leaves its rooms.
	ModeUnclaim Mode = "unclaim"
)

// Options control how hosts are claimed.
type Options struct {
	Mode Mode
	// Wait is how long to wait, after a claim, for the agent to report
	// itself online; 0 records the state without waiting.
	Wait time.Duration
	// PollInterval is the pause between two state checks while waiting.
	PollInterval time.Duration
	// Force claims even a node that is claimed and online.
	Force bool
	// PastGUIDs, when set, tells the machine GUIDs hosts had in earlier
	// runs: a host with another host's GUID is a clone even when the two
	// are not in one run.
	PastGUIDs GUIDHistory
	// Token returns the claim token of a host (resolved once per source by
	// the caller).
	Token func(h *inventory.Host) (inventory.Secret, error)
	// SudoPassword returns the sudo/doas password of a host whose inventory
	// names one (resolved once per source by the caller).
	SudoPassword func(h *inventory.Host) (inventory.Secret, error)
	// KeepPushed leaves files pushed to hosts (kickstart scripts, offline
	// bundles) in place when a host's run ends, instead of removing them.
	KeepPushed bool
	// NewIdentity gives reclaimed nodes a new machine GUID (cloned VMs).
	NewIdentity bool
	// OfflineFor: reconcile reclaims nodes offline for longer than this.
	OfflineFor time.Duration
	// Unclaim, with ModePlan, plans an unclaim instead of a claim.
	Unclaim bool
	// CloudRooms returns the host's Space through the Cloud API, nil when
	// the host has no API token (unclaim then leaves Cloud alone).
	CloudRooms func(h *inventory.Host) CloudRooms
	// ReadFile reads local files (the CA chain); nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Claimer claims one host at a time; a fleet run calls it from many
// goroutines. It holds no per-host state.
type Claimer struct {
	conn Connector
	opts Options
	// guids finds hosts of this run that share a machine GUID; names those
	// that would share a node name in one Space.
	guids *guidRegistry
	names *guidRegistry
}

// New returns a Claimer.
func New(c Connector, opts Options) *Claimer {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Mode == "" {
		opts.Mode = ModeClaim
	}
	return &Claimer{conn: c, opts: opts, guids: newGUIDRegistry(opts.PastGUIDs), names: newGUIDRegistry(nil)}
}

// hostRun is the state of one host's run.
type hostRun struct {
	h     *inventory.Host
	res   *Result
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

// step runs one timed phase and records it, with the user and the wrapper
// its commands ran with (what f passed to r.use).
func (r *hostRun) step(name string, f func() error) error {
	start := time.Now()
	r.ran = nil
	err := f()
	as, via := r.who(r.ran)
	r.res.Steps = append(r.res.Steps, Step{Name: name, Millis: time.Since(start).Milliseconds(), As: as, Via: via})
	return err
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

// Do runs the configured mode on one host and always returns its record.
func (c *Claimer) Do(ctx context.Context, h *inventory.Host) Result {
	res := Result{
		Host:     h.Name,
		Address:  h.Address,
		Groups:   h.Groups,
		Rooms:    h.Claim.Rooms,
		Attempts: 1,
		Start:    time.Now().UTC(),
	}
	r := &hostRun{h: h, res: &res}
	err := c.do(ctx, r)
	if r.conn != nil {
		r.conn.Close()
	}
	if err != nil {
		res.Status = StatusFailed
		res.Category = CategoryOf(err)
		res.Message = err.Error()
		if ctx.Err() != nil && res.Category != CatTimeout {
			res.Category = CatCanceled
			if ctx.Err() == context.DeadlineExceeded {
				res.Category = CatTimeout
			}
		}
	}
	if res.Category != "" {
		res.Remedy = remedy(res.Category)
	}
	res.End = time.Now().UTC()
	return res
}

func (c *Claimer) do(ctx context.Context, r *hostRun) error {
	h := r.h
	err := r.step("connect", func() (err error) {
		r.conn, err = c.conn.Connect(ctx, h)
		return err
	})
	if err != nil {
		return err
	}
	if r.become, err = c.becomeRunner(h, r.conn); err != nil {
		return err
	}
	if err := r.step("probe", func() error { return c.probe(ctx, r) }); err != nil {
		return err
	}
	f := r.facts
	r.res.OS = f.OS.PrettyName
	if r.res.OS == "" {
		r.res.OS = f.Kernel
	}
	r.res.Arch = f.Arch

	d := decide(h, f)
	r.res.Method = d.method
	if d.inst != nil {
		r.setInstall(d.inst)
	}
	if c.opts.Mode == ModeUnclaim || (c.opts.Mode == ModePlan && c.opts.Unclaim) {
		return c.unclaim(ctx, r, d)
	}
	if why := settingsRefusal(h, d.method); why != "" {
		return fail(CatMethodUnavailable, "%s", why)
	}
	if w := settingsDeferred(h, d.method); w != "" {
		r.res.Warnings = append(r.res.Warnings, w)
	}
	c.checkNodeName(r)
	if d.err != nil {
		return d.err
	}
	switch d.method {
	case MethodDocker:
		return c.docker(ctx, r, d.ctr)
	case MethodKickstart:
		return c.kickstart(ctx, r, d)
	}
	inst, method := r.inst, d.method
	if r.priv, err = r.privilege(inst); err != nil {
		switch c.opts.Mode {
		case ModeVerify, ModePlan:
			// Reading needs no privilege when the API answers.
			r.res.Warnings = append(r.res.Warnings, err.Error())
		default:
			return err
		}
	}
	if plan := c.sweepLeftovers(ctx, r); plan != "" {
		defer func() { r.res.Plan = append([]string{plan}, r.res.Plan...) }()
	}
	// Clones: a machine GUID already seen on another host of this run.
	if other, run := c.guids.register(inst.MachineGUID, h.Name); other != "" {
		switch c.opts.Mode {
		case ModeClaim, ModePlan, ModeReconcile:
			r.res.DuplicateOf, r.res.DuplicateRun = other, run
			if run != "" {
				other += " (in run " + run + ")"
			}
			if !c.opts.NewIdentity {
				return fail(CatDuplicateGUID, "machine GUID %s is also the GUID of %s: not claimed (clones replace each other in Cloud)", inst.MachineGUID, other)
			}
			r.res.Warnings = append(r.res.Warnings, "machine GUID shared with "+other+": claimed with a new identity")
			return c.reclaim(ctx, r, method, "machine GUID shared with "+other+", new identity")
		}
	}

	switch c.opts.Mode {
	case ModeClaim, ModeReclaim, ModeReconcile:
		r.res.Ephemeral = h.Claim.Ephemeral
		if len(confSettings(h, method)) > 0 {
			if err := r.step("netdata-conf", func() error { return c.applySettings(ctx, r, method) }); err != nil {
				return err
			}
		}
	case ModePlan:
		defer func() { r.res.Plan = append(settingsPlan(inst, confSettings(h, method)), r.res.Plan...) }()
	}
	switch c.opts.Mode {
	case ModeVerify:
		return c.verify(ctx, r)
	case ModeReclaim:
		return c.reclaim(ctx, r, method, "")
	case ModeReconcile:
		return c.reconcile(ctx, r, method)
	}

	if inst.Claimed() && !c.opts.Force {
		st, err := c.state(ctx, r)
		if err != nil {
			return err
		}
		r.res.setState(st)
		switch {
		case st.Status == "indirect" && st.Claimed:
			r.res.Status = StatusAlreadyClaimed
			r.res.Message = "already claimed" + viaParent
			r.res.Plan = []string{"nothing to do: claimed (" + inst.ClaimedID + ") and reachable through its parent"}
			return nil
		case st.Online:
			r.res.Status = StatusAlreadyClaimed
			r.res.Message = "already claimed and online"
			r.res.Plan = []string{"nothing to do: claimed (" + inst.ClaimedID + ") and online"}
			return nil
		case c.opts.Mode == ModePlan:
			r.res.Status = StatusPlanned
			r.res.Plan = []string{"nothing to change: claimed but offline; reclaim would start over"}
			return nil
		}
		return c.waitOnline(ctx, r, StatusAlreadyClaimed, "already claimed")
	}
	if inst.Claimed() && method == MethodClaimConf {
		// --force: a v2 agent ignores claim.conf while it holds a claimed
		// id (netdata v2.11.0 src/claim/claim.c:165-170), so start over.
		return c.reclaim(ctx, r, method, forceReclaimWhy)
	}
	return c.claim(ctx, r, method)
}

// forceReclaimWhy is why --force reclaims a claimed v2 agent.
const forceReclaimWhy = "--force on a claimed agent, which ignores claim.conf while it holds a claimed id"

// claim claims a host that is not claimed, with method.
func (c *Claimer) claim(ctx context.Context, r *hostRun, method string) error {
	switch method {
	case MethodClaimConf:
		if c.opts.Mode == ModePlan {
			r.res.Status = StatusPlanned
			r.res.Plan = append([]string{r.describe(r.priv)}, claimConfPlan(r.h, r.inst)...)
			r.res.Message = "would claim with claim.conf"
			return nil
		}
		c.openEarly(ctx, r)
		defer r.early.close()
		if err := r.step("claim", func() error { r.use(r.priv); return c.claimConf(ctx, r, nil) }); err != nil {
			return err
		}
		return r.step("verify", func() error { return c.waitOnline(ctx, r, StatusClaimed, "claimed") })
	case MethodClaimScript:
		if c.opts.Mode == ModePlan {
			r.res.Status = StatusPlanned
			r.res.Plan = append([]string{r.describe(r.priv)}, claimScriptPlan(r.h, r.inst, false)...)
			r.res.Message = "would claim with netdata-claim.sh"
			return nil
		}
		c.openEarly(ctx, r)
		defer r.early.close()
		if err := r.step("claim", func() error { r.use(r.priv); return c.claimScript(ctx, r, nil) }); err != nil {
			return err
		}
		return r.step("verify", func() error { return c.waitOnline(ctx, r, StatusClaimed, "claimed") })
	}
	return fail(CatMethodUnavailable, "method %s is not available in this version of fleetclaim", method)
}

// Methods.
const (
	MethodClaimConf   = "claim-conf"
	MethodClaimScript = "claim-script"
	MethodKickstart   = "kickstart"
	MethodDocker      = "docker"
)

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

// chooseMethod picks the claim method for an install.
func chooseMethod(want string, in *remote.Install) (string, error) {
	if in.CloudSupport == "no" {
		return "", fail(CatUnsupportedInstall, "agent %s (%s: binary %s, config %s, var lib %s, run as %s) was built without Netdata Cloud support and cannot be claimed",
			orDefault(in.Version, "of unknown version"), installTypeOr(in), orDefault(in.Binary, "not found"), in.ConfigDir, in.VarLibDir, in.RunAsUser)
	}
	gen := in.ClaimGeneration
	if gen == 0 && remote.Major(in.Version) >= 2 {
		gen = 2
	}
	switch want {
	case "", "auto":
		switch {
		case gen == 2 && in.CLI != "":
			return MethodClaimConf, nil
		case gen == 1:
			return MethodClaimScript, nil
		case in.CLI != "":
			return MethodClaimConf, nil
		}
		return "", fail(CatCommandNotFound, "no netdata-claim.sh or netdatacli in %s", in.ConfigDir)
	case MethodClaimConf:
		if in.CLI == "" {
			return want, fail(CatCommandNotFound, "netdatacli not found next to %s", in.Binary)
		}
		return want, nil
	}
	return want, nil
}

func installTypeOr(in *remote.Install) string {
	if in.InstallType == "" {
		return "distribution/third-party package"
	}
	return in.InstallType
}

// becomeRunner is the inventory's sudo/doas for a host, with its password
// when the inventory names one; nil when become is none.
func (c *Claimer) becomeRunner(h *inventory.Host, conn Conn) (remote.Runner, error) {
	if h.Become != "sudo" && h.Become != "doas" {
		return nil, nil
	}
	b := remote.Become{Method: h.Become}
	if !h.SudoPassword.IsZero() && c.opts.SudoPassword != nil {
		pw, err := c.opts.SudoPassword(h)
		if err != nil {
			return nil, &Error{Category: CatNoPrivilege, Msg: "sudo password", Err: err}
		}
		b.Password = []byte(pw.Reveal())
	}
	return remote.Privileged(conn, b, h.BecomeUser), nil
}

// probe gathers the host's facts with the privilege the claim will use:
// through become when it is configured and works, else as the login user
// (remembering why become failed). Only remote.Privileged decides how the
// probe's command runs.
func (c *Claimer) probe(ctx context.Context, r *hostRun) error {
	f, run, becomeErr, err := probeHost(ctx, r.conn, r.become, probeOptions(r.h))
	r.use(run)
	r.facts, r.probeRun, r.becomeErr = f, run, becomeErr
	return err
}

// probeHost probes through become, then, when sudo/doas refused, as the
// login user. It returns the facts, the runner that gathered them and why
// become was refused.
func probeHost(ctx context.Context, conn Conn, become remote.Runner, o remote.ProbeOptions) (*remote.ProbeFacts, remote.Runner, error, error) {
	var becomeErr error
	if become != nil {
		f, err := remote.ProbeWith(ctx, become, o)
		if err == nil {
			return f, become, nil, nil
		}
		if !becomeRefused(err) {
			return nil, become, nil, err
		}
		becomeErr = err
	}
	f, err := remote.ProbeWith(ctx, conn, o)
	return f, conn, becomeErr, err
}

// becomeRefused reports whether err is sudo/doas refusing (not a lost
// connection or a probe that failed under it).
func becomeRefused(err error) bool {
	switch remote.CategoryOf(err) {
	case CatNoPrivilege, remote.CatSudoPassword:
		return true
	}
	return false
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
// (src/daemon/commands.c:682-686 v2.11.0), for at most agentReadyWait.
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
		case <-time.After(c.opts.PollInterval):
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
		v1 := r.inst.ClaimGeneration == 1 && remote.Major(r.inst.Version) < 2
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
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return st, err
		}
	}
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

// openEarly starts opening the forward to the agent's API when the state
// after the claim will be read there: a host (not a container) whose agent
// serves its API.
func (c *Claimer) openEarly(ctx context.Context, r *hostRun) {
	if r.ctr == nil && r.inst.WebMode != "none" && r.inst.WebPort > 0 {
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

// verify records the agent's state without changing anything.
func (c *Claimer) verify(ctx context.Context, r *hostRun) error {
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

// randomDelimiter returns a here-document delimiter no value can guess.
func randomDelimiter() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "FLEETCLAIM_EOF_" + hex.EncodeToString(b[:])
}

var errLineBreak = errors.New("contains a line break, which cannot go into an ini file")

// checkINIValue refuses values that would add lines to claim.conf.
func checkINIValue(name, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fail(remote.CatInvalidValue, "%s %v", name, errLineBreak)
	}
	return nil
}

func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
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
