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
	// ReadFile reads local files (the CA chain); nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Claimer claims one host at a time; a fleet run calls it from many
// goroutines. It holds no per-host state.
type Claimer struct {
	conn Connector
	opts Options
	// guids finds hosts of this run that share a machine GUID.
	guids *guidRegistry
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
	return &Claimer{conn: c, opts: opts, guids: newGUIDRegistry()}
}

// hostRun is the state of one host's run.
type hostRun struct {
	h     *inventory.Host
	res   *Result
	conn  Conn
	facts *remote.Facts
	inst  *remote.Install
	// priv runs commands with the privilege the claim needs: the
	// connection itself when the login user is root or the agent's run-as
	// user, else through sudo/doas.
	priv remote.Runner
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

func (r *hostRun) step(name string, f func() error) error {
	start := time.Now()
	err := f()
	r.res.Steps = append(r.res.Steps, Step{Name: name, Millis: time.Since(start).Milliseconds()})
	return err
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
	if err := r.step("probe", func() (err error) {
		r.facts, err = remote.ProbeWith(ctx, r.conn, probeOptions(h))
		return err
	}); err != nil {
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
	if r.priv, err = c.privilege(h, r.conn, f, inst); err != nil {
		switch c.opts.Mode {
		case ModeVerify, ModePlan:
			// Reading needs no privilege when the API answers.
		default:
			return err
		}
	}
	// Clones: a machine GUID already seen on another host of this run.
	if other := c.guids.register(inst.MachineGUID, h.Name); other != "" {
		switch c.opts.Mode {
		case ModeClaim, ModePlan, ModeReconcile:
			r.res.DuplicateOf = other
			if !c.opts.NewIdentity {
				return fail(CatDuplicateGUID, "machine GUID %s is also the GUID of %s: not claimed (clones replace each other in Cloud)", inst.MachineGUID, other)
			}
			r.res.Warnings = append(r.res.Warnings, "machine GUID shared with "+other+": claimed with a new identity")
			return c.reclaim(ctx, r, method, "machine GUID shared with "+other+", new identity")
		}
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
	return c.claim(ctx, r, method)
}

// claim claims a host that is not claimed, with method.
func (c *Claimer) claim(ctx context.Context, r *hostRun, method string) error {
	switch method {
	case MethodClaimConf:
		if c.opts.Mode == ModePlan {
			r.res.Status = StatusPlanned
			r.res.Plan = claimConfPlan(r.h, r.inst)
			r.res.Message = "would claim with claim.conf"
			return nil
		}
		c.openEarly(ctx, r)
		defer r.early.close()
		if err := r.step("claim", func() error { return c.claimConf(ctx, r, nil) }); err != nil {
			return err
		}
		return r.step("verify", func() error { return c.waitOnline(ctx, r, StatusClaimed, "claimed") })
	case MethodClaimScript:
		if c.opts.Mode == ModePlan {
			r.res.Status = StatusPlanned
			r.res.Plan = claimScriptPlan(r.h, r.inst, false)
			r.res.Message = "would claim with netdata-claim.sh"
			return nil
		}
		c.openEarly(ctx, r)
		defer r.early.close()
		if err := r.step("claim", func() error { return c.claimScript(ctx, r, nil) }); err != nil {
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
func pickInstall(f *remote.Facts) (*remote.Install, error) {
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

// probeWrap runs the probe with the configured privilege when it is not
// free, so that cloud.d can be read; a probe never needs a password prompt.
func probeWrap(h *inventory.Host) func(string) string {
	switch h.Become {
	case "sudo":
		return func(cmd string) string { return "sudo -n " + cmd + " 2>/dev/null || " + cmd }
	case "doas":
		return func(cmd string) string { return "doas -n " + cmd + " 2>/dev/null || " + cmd }
	}
	return nil
}

// privilege decides how the claim's commands run: directly when the login
// user is root or the agent's run-as user, else through sudo/doas as root.
func (c *Claimer) privilege(h *inventory.Host, conn Conn, f *remote.Facts, in *remote.Install) (remote.Runner, error) {
	if f.Root() || f.User == in.RunAsUser {
		return conn, nil
	}
	switch h.Become {
	case "sudo", "doas":
		b := remote.Become{Method: h.Become}
		if !h.SudoPassword.IsZero() && c.opts.SudoPassword != nil {
			pw, err := c.opts.SudoPassword(h)
			if err != nil {
				return nil, &Error{Category: CatNoPrivilege, Msg: "sudo password", Err: err}
			}
			b.Password = []byte(pw.Reveal())
		}
		return remote.Privileged(conn, b, ""), nil
	}
	return nil, fail(CatNoPrivilege, "logged in as %s, but claiming needs root or the agent's run-as user %s (set become: sudo)", f.User, in.RunAsUser)
}

func (r *Result) setState(st CloudState) {
	on := st.Online
	r.Online = &on
	if st.ClaimedID != "" {
		r.ClaimedID = st.ClaimedID
	}
	if st.Keys != nil {
		r.Troubleshooting = st.Keys
	}
}

// state reads the agent's Cloud state: the web API through the SSH
// connection first, netdatacli when the API is off or unreachable.
func (c *Claimer) state(ctx context.Context, r *hostRun) (CloudState, error) {
	if r.ctr != nil {
		return c.containerState(ctx, r)
	}
	if r.inst.WebMode != "none" {
		v1 := r.inst.ClaimGeneration == 1 && remote.Major(r.inst.Version) < 2
		// The transport dials from a goroutine of its own.
		var usedEarly atomic.Bool
		dial := func(ctx context.Context) (net.Conn, error) {
			if c, err, ok := r.early.take(ctx); ok {
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
	res, err := remote.RunScript(ctx, run, cmd)
	if err != nil {
		return CloudState{}, err
	}
	if res.ExitCode == 255 {
		return CloudState{}, fail(CatAgentNotRunning, "netdatacli cannot reach the agent: %s", clip(strings.TrimSpace(string(res.Stdout)+" "+string(res.Stderr)), 200))
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
	r.res.Method = "verify"
	switch {
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
