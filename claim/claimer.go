package claim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
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

// hostMode is what a run does to each host and whether it only plans it:
// a plan is a dry claim, or with Unclaim a dry unclaim.
func (o Options) hostMode() (mode Mode, dry bool) {
	if o.Mode != ModePlan {
		return o.Mode, false
	}
	if o.Unclaim {
		return ModeUnclaim, true
	}
	return ModeClaim, true
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
	r := &hostRun{c: c, h: h, res: &res}
	r.mode, r.dry = c.opts.hostMode()
	err := r.run(ctx)
	if r.conn != nil {
		r.conn.Close()
	}
	res.end(ctx, err)
	return res
}

// end closes a host's record: a failure's category (the run's timeout or
// cancellation when that is what stopped it) and remedy, the end time.
func (res *Result) end(ctx context.Context, err error) {
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
}

// run connects to the host, probes it, picks its method and does the
// run's mode with it.
func (r *hostRun) run(ctx context.Context) error {
	if err := r.connect(ctx); err != nil {
		return err
	}
	if err := r.step("probe", func() error { return r.probe(ctx) }); err != nil {
		return err
	}
	r.res.OS = orDefault(r.facts.OS.PrettyName, r.facts.Kernel)
	r.res.Arch = r.facts.Arch
	m, err := decide(r.h, r.facts)
	r.res.Method = m.name()
	if in := m.found(); in != nil {
		r.setInstall(in)
	}
	return r.act(ctx, m, err)
}

// connect opens the host's one connection and, when the inventory says
// so, the sudo/doas runner on it.
func (r *hostRun) connect(ctx context.Context) error {
	err := r.step("connect", func() (err error) {
		r.conn, err = r.c.conn.Connect(ctx, r.h)
		return err
	})
	if err != nil {
		return err
	}
	r.become, err = r.c.becomeRunner(r.h, r.conn)
	return err
}

// act does the run's mode on the host with its method m: the one place
// where the mode picks what runs. decided is why no method fits, if so;
// unclaim needs none (it removes whatever claim an install holds).
func (r *hostRun) act(ctx context.Context, m method, decided error) error {
	if r.mode == ModeUnclaim {
		return m.unclaim(ctx, r)
	}
	w, err := m.settings(r.h)
	if err != nil {
		return err
	}
	if w != "" {
		r.res.Warnings = append(r.res.Warnings, w)
	}
	r.c.checkNodeName(r)
	if decided != nil {
		return decided
	}
	switch r.mode {
	case ModeVerify:
		return m.verify(ctx, r)
	case ModeReclaim:
		return m.reclaim(ctx, r)
	case ModeReconcile:
		return m.reconcile(ctx, r)
	}
	return m.claim(ctx, r)
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
func (r *hostRun) probe(ctx context.Context) error {
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
