package claim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// KickstartURL is where the host fetches kickstart.sh when no local copy is
// pushed.
const KickstartURL = "https://get.netdata.cloud/kickstart.sh"

// kickstartArgs are kickstart.sh's install options for a host. The claim is
// never left to kickstart (it exits 0 on failed claims and mangles room
// lists): fleetclaim claims after the install.
func kickstartArgs(h *inventory.Host, reinstall bool) []string {
	k := h.Claim.Kickstart
	args := []string{"--non-interactive"}
	switch k.Channel {
	case "nightly":
		args = append(args, "--nightly-channel")
	case "stable":
		args = append(args, "--stable-channel")
	}
	if k.StaticOnly {
		args = append(args, "--static-only")
	}
	if k.NativeOnly {
		args = append(args, "--native-only")
	}
	if k.DisableTelemetry {
		args = append(args, "--disable-telemetry")
	}
	if reinstall {
		args = append(args, "--reinstall-even-if-unsafe")
	}
	// Never --install-prefix: kickstart.sh refuses it without --build-only
	// (packaging/installer/kickstart.sh:1364-1367 v2.11.0, F0204).
	return args
}

// checkKickstart refuses the kickstart settings kickstart.sh itself would
// refuse with an offline bundle (packaging/installer/kickstart.sh v2.11.0):
// a native install (2598-2601, F0502), and a channel other than the
// bundle's own, which its "channel" file names (2622-2635, F0508, F0509).
func checkKickstart(k inventory.Kickstart, readFile func(string) ([]byte, error)) error {
	if k.OfflineBundle == "" {
		return nil
	}
	if k.NativeOnly {
		return fail(remote.CatInvalidValue, "kickstart.native_only with an offline bundle: kickstart.sh installs offline bundles as static builds only (F0502)")
	}
	b, err := readFile(filepath.Join(k.OfflineBundle, "channel"))
	have := strings.TrimSpace(string(b))
	switch {
	case err != nil || have == "":
		return fail(remote.CatInvalidValue, "offline bundle %s has no channel file: kickstart.sh would refuse it (F0508); make it with kickstart.sh --prepare-offline-install-source", k.OfflineBundle)
	case k.Channel != "" && k.Channel != have:
		return fail(remote.CatInvalidValue, "kickstart.channel is %s, but the offline bundle %s is of the %s channel: kickstart.sh would refuse it (F0509)", k.Channel, k.OfflineBundle, have)
	}
	return nil
}

// kickstartMethod installs the agent with kickstart.sh, then claims it
// with the new agent's own method. inst is the agent it replaces, when
// reinstall: one that cannot be claimed; nil on a host without one.
type kickstartMethod struct {
	installed
	reinstall bool
}

func (kickstartMethod) name() string { return MethodKickstart }

// claim installs, probes again (kickstart's exit code is not trusted) and
// claims the agent found then.
func (m kickstartMethod) claim(ctx context.Context, r *hostRun) error {
	if err := checkKickstart(r.h.Claim.Kickstart, r.c.opts.ReadFile); err != nil {
		return err
	}
	priv, err := r.rootRunner()
	switch {
	case err != nil && !r.dry:
		return err
	case err != nil:
		r.res.Warnings = append(r.res.Warnings, err.Error())
	default:
		r.planAs(priv)
	}
	var rc string
	if err := r.wet("install", m.installLines(r.h), func() (err error) {
		rc, err = m.install(ctx, r, r.use(priv))
		return err
	}); err != nil {
		return err
	}
	var next generation
	if err := r.wet("probe", []string{"probe the host again (kickstart's exit code is not trusted)"}, func() (err error) {
		next, err = m.reprobe(ctx, r, rc)
		return err
	}); err != nil {
		return err
	}
	return m.claimNew(ctx, r, next)
}

// reconcile installs the agent as claim does.
func (m kickstartMethod) reconcile(ctx context.Context, r *hostRun) error { return m.claim(ctx, r) }

func (m kickstartMethod) verify(_ context.Context, r *hostRun) error  { return m.notInstalled(r) }
func (m kickstartMethod) reclaim(_ context.Context, r *hostRun) error { return m.notInstalled(r) }

// notInstalled: only claim and reconcile install an agent.
func (m kickstartMethod) notInstalled(r *hostRun) error {
	if err := checkKickstart(r.h.Claim.Kickstart, r.c.opts.ReadFile); err != nil {
		return err
	}
	return fail(CatNotInstalled, "no claimable Netdata Agent on the host")
}

// unclaim removes the claim of the agent kickstart would replace, if any.
func (m kickstartMethod) unclaim(ctx context.Context, r *hostRun) error {
	if m.inst != nil {
		return m.installed.unclaim(ctx, r)
	}
	return r.nothingToUnclaim()
}

// installLines are what install does, as a plan says it.
func (m kickstartMethod) installLines(h *inventory.Host) []string {
	k := h.Claim.Kickstart
	var p []string
	if m.reinstall && m.inst != nil {
		p = append(p, fmt.Sprintf("the agent %s in %s cannot be claimed; reinstall allowed", orDefault(m.inst.Version, "?"), m.inst.ConfigDir))
	}
	args := strings.Join(kickstartArgs(h, m.reinstall), " ")
	switch {
	case k.OfflineBundle != "":
		return append(p, "push the offline bundle "+k.OfflineBundle+" to a temporary directory on the host (sha256 checked)",
			"run install.sh "+args)
	case k.ScriptFile != "":
		return append(p, "push "+k.ScriptFile+" (sha256 "+orDefault(k.ScriptSHA256, "not pinned")+", checked on the host)",
			"run kickstart.sh "+args)
	}
	pinned := ""
	if k.ScriptSHA256 != "" {
		pinned = " (sha256 pinned)"
	}
	return append(p, "fetch "+KickstartURL+" on the host with curl or wget"+pinned, "run kickstart.sh "+args)
}

// install runs kickstart (runKickstart) and notes its exit code.
func (m kickstartMethod) install(ctx context.Context, r *hostRun, priv remote.Runner) (string, error) {
	rc, err := r.c.runKickstart(ctx, r, priv, m.reinstall)
	if err == nil {
		r.res.Plan = append(r.res.Plan, "kickstart exited "+rc)
	}
	return rc, err
}

// reprobe looks at what kickstart left, whatever it said (rc), and picks
// the new agent's method.
func (m kickstartMethod) reprobe(ctx context.Context, r *hostRun, rc string) (generation, error) {
	if err := r.probe(ctx); err != nil {
		return nil, err
	}
	inst, err := pickInstall(r.facts)
	if err != nil {
		return nil, fail(CatNotInstalled, "kickstart exited %s but no agent is installed: %v", rc, err)
	}
	next, err := chooseMethod("auto", inst)
	if err != nil {
		return nil, &Error{Category: CategoryOf(err), Msg: "kickstart exited " + rc + ", but", Err: err}
	}
	r.setInstall(inst)
	if r.priv, err = r.privilege(inst); err != nil {
		return nil, err
	}
	return next.(generation), nil
}

// claimNew claims the agent kickstart installed with its own method's
// steps; a plan, which cannot know that method yet, says so.
func (m kickstartMethod) claimNew(ctx context.Context, r *hostRun, next generation) error {
	if r.dry {
		r.res.Plan = append(r.res.Plan, kickstartClaimLine, waitLine)
		r.planned("would install the agent with kickstart, then claim it")
		return nil
	}
	if err := next.claimSteps(ctx, r); err != nil {
		return err
	}
	r.res.Message = "installed with kickstart, " + r.res.Message
	return nil
}

// kickstartClaimLine is a plan's line for the claim after kickstart.
const kickstartClaimLine = "claim the new agent (claim.conf, or netdata-claim.sh on a v1 agent)"

// rootRunner runs commands as root: the connection itself when the login
// user is root, else the configured sudo/doas when it runs as root.
func (r *hostRun) rootRunner() (remote.Runner, error) {
	if r.facts.Root() {
		return r.conn, nil
	}
	if u := r.h.BecomeUser; u != "" && u != "root" {
		return nil, fail(CatNoPrivilege, "installing needs root, and become_user is %s", u)
	}
	return r.privilege(&remote.Install{RunAsUser: "root"})
}

// push puts content at dst on the host (a fresh temporary directory), with
// its sha256 checked there: sftp or exec-stdin through remote.Upload on an
// SSH connection, a here-less stdin copy elsewhere.
func push(ctx context.Context, conn Conn, priv remote.Runner, dst string, content []byte, mode os.FileMode) error {
	if cl, ok := conn.(*remote.Client); ok {
		return remote.Upload(ctx, cl, priv, dst, content, mode, "")
	}
	sum := sha256.Sum256(content)
	q := &remote.Quoter{}
	qd := q.Q(dst)
	if q.Err != nil {
		return q.Err
	}
	cmd := fmt.Sprintf("umask 077; cat > %s && chmod %o %s && h=$(sha256sum %s 2>/dev/null || shasum -a 256 %s) && [ \"${h%%%% *}\" = %s ]",
		qd, mode, qd, qd, qd, hex.EncodeToString(sum[:]))
	res, err := priv.Run(ctx, cmd, strings.NewReader(string(content)))
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fail(remote.CatUpload, "pushing %s failed or its sha256 differs on the host: %s", dst, remote.Clip(strings.TrimSpace(string(res.Stderr)), 200))
	}
	return nil
}

// runKickstart gets kickstart.sh (or the offline bundle) onto the host and
// runs it; it returns kickstart's exit code as text, for the record only.
func (c *Claimer) runKickstart(ctx context.Context, r *hostRun, priv remote.Runner, reinstall bool) (string, error) {
	k := r.h.Claim.Kickstart
	dir, cleanup, err := c.pushDir(ctx, r, priv)
	if err != nil {
		return "", err
	}
	defer cleanup()
	how, want := "fetch", strings.ToLower(k.ScriptSHA256)
	switch {
	case k.OfflineBundle != "":
		how = "bundle"
		err = c.pushBundle(ctx, r, priv, dir)
	case k.ScriptFile != "":
		how = "file"
		err = c.pushScript(ctx, r, priv, dir)
	}
	if err != nil {
		return "", err
	}
	args := append([]string{dir, how, KickstartURL, want}, kickstartArgs(r.h, reinstall)...)
	res, err := remote.RunScript(ctx, priv, kickstartScript, args...)
	if err != nil {
		return "", err
	}
	return r.kickstartExit(res)
}

// pushDir makes the temporary directory on the host that what is pushed
// goes to. cleanup removes it, whatever happened, unless the user asked to
// keep it (to debug an install).
func (c *Claimer) pushDir(ctx context.Context, r *hostRun, priv remote.Runner) (dir string, cleanup func(), err error) {
	mk, err := priv.Run(ctx, `d=$(mktemp -d "${TMPDIR:-/tmp}/fleetclaim-kickstart.XXXXXX") && echo "$d"`, nil)
	if err != nil {
		return "", nil, err
	}
	dir = strings.TrimSpace(string(mk.Stdout))
	if mk.ExitCode != 0 || !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, "\n'\"") {
		return "", nil, fail(CatWriteFailed, "cannot make a temporary directory on the host: %s", remote.Clip(strings.TrimSpace(string(mk.Stderr)), 200))
	}
	q := &remote.Quoter{}
	qdir := q.Q(dir)
	if q.Err != nil {
		return "", nil, q.Err
	}
	return dir, func() {
		if c.opts.KeepPushed {
			r.res.Warnings = append(r.res.Warnings, "pushed files kept in "+dir+" (--keep-pushed)")
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushedCleanupTimeout)
		defer cancel()
		priv.Run(cctx, "rm -rf "+qdir, nil)
	}, nil
}

// pushedCleanupTimeout bounds the removal of what was pushed.
const pushedCleanupTimeout = 15 * time.Second

// kickstartExit reads what kickstart.sh printed: why it could not run, or
// kickstart's exit code (a warning with its log when it is not 0).
func (r *hostRun) kickstartExit(res remote.Result) (string, error) {
	out := parseKV(res.Stdout)
	switch out["fleetclaim-error"] {
	case "no-fetcher":
		return "", fail(CatCommandNotFound, "neither curl nor wget on the host to fetch kickstart.sh: push a local copy (kickstart.script_file)")
	case "fetch":
		return "", fail(CatCloudUnreachable, "the host cannot download %s (firewall, proxy?): push a local copy (kickstart.script_file) or an offline bundle", KickstartURL)
	case "sha256":
		return "", fail(remote.CatInvalidValue, "the kickstart.sh the host downloaded does not match the pinned sha256")
	}
	rc := out["kickstart-rc"]
	if rc == "" {
		return "", fail(CatClaimFailed, "kickstart did not finish: %s", remote.Clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	if rc != "0" {
		log := strings.Join(outLines(res.Stdout, "log="), "\n")
		r.res.Warnings = append(r.res.Warnings, "kickstart exited "+rc+": "+remote.Clip(log, 400))
	}
	return rc, nil
}

// pushBundle pushes the offline bundle's files to dir on the host.
func (c *Claimer) pushBundle(ctx context.Context, r *hostRun, priv remote.Runner, dir string) error {
	bundle := r.h.Claim.Kickstart.OfflineBundle
	files, err := bundleFiles(bundle)
	if err != nil {
		return err
	}
	for _, rel := range files {
		b, err := c.opts.ReadFile(filepath.Join(bundle, rel))
		if err != nil {
			return &Error{Category: remote.CatInvalidValue, Msg: "offline_bundle", Err: err}
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(rel, ".sh") || strings.HasSuffix(rel, ".run") {
			mode = 0o755
		}
		if err := push(ctx, r.conn, priv, path.Join(dir, rel), b, mode); err != nil {
			return err
		}
	}
	return nil
}

// pushScript pushes the local kickstart.sh to dir on the host, after
// checking it against its pinned sha256.
func (c *Claimer) pushScript(ctx context.Context, r *hostRun, priv remote.Runner, dir string) error {
	k := r.h.Claim.Kickstart
	b, err := c.opts.ReadFile(k.ScriptFile)
	if err != nil {
		return &Error{Category: remote.CatInvalidValue, Msg: "kickstart script_file", Err: err}
	}
	if want := strings.ToLower(k.ScriptSHA256); want != "" {
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			return fail(remote.CatInvalidValue, "kickstart script_file %s has sha256 %s, the inventory pins %s", k.ScriptFile, got, want)
		}
	}
	return push(ctx, r.conn, priv, path.Join(dir, "kickstart.sh"), b, 0o700)
}

// bundleFiles lists the regular files of an offline bundle directory,
// which must hold install.sh.
func bundleFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{Category: remote.CatInvalidValue, Msg: "offline_bundle", Err: err}
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	for _, f := range files {
		if f == "install.sh" {
			return files, nil
		}
	}
	return nil, fail(remote.CatInvalidValue, "offline_bundle %s has no install.sh (make it with kickstart.sh --prepare-offline-install-source)", dir)
}
