package claim

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/fleetclaim/fleetclaim/remote"
)

// The docker method: a Netdata Agent in a running container. fleetclaim
// probes inside the container (docker exec, the probe on stdin), writes
// claim.conf there with `docker exec -i` and the file's content on stdin —
// the token never reaches docker's argv — and asks the agent to reload.

// seccompLimited reports whether the host's Docker or libseccomp is older
// than the versions the agent's container needs without
// `--security-opt seccomp=unconfined` (Docker 18.04, libseccomp 2.3.3).
func seccompLimited(f *remote.ProbeFacts) string {
	var why []string
	if f.DockerVersion != "" && versionLess(f.DockerVersion, []int{18, 4}) {
		why = append(why, "Docker "+f.DockerVersion+" < 18.04")
	}
	if f.LibSeccomp != "" && versionLess(f.LibSeccomp, []int{2, 3, 3}) {
		why = append(why, "libseccomp "+f.LibSeccomp+" < 2.3.3")
	}
	if len(why) == 0 {
		return ""
	}
	return strings.Join(why, ", ") + ": the agent's container may need --security-opt seccomp=unconfined"
}

// versionLess compares a dotted version with want, numerically.
func versionLess(v string, want []int) bool {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '~' })
	for i, w := range want {
		n := 0
		if i < len(parts) {
			n, _ = strconv.Atoi(strings.TrimLeft(parts[i], "v"))
		}
		if n != w {
			return n < w
		}
	}
	return false
}

func dockerExec(ctr string, interactive bool, args ...string) (string, error) {
	q := &remote.Quoter{}
	cmd := "docker exec"
	if interactive {
		cmd += " -i"
	}
	cmd += " " + q.Q(ctr)
	if len(args) > 0 {
		cmd += " " + q.Join(args)
	}
	return cmd, q.Err
}

// dockerMethod claims the agent of a running container (ctr): claim.conf
// written inside it through docker exec, then a reload.
type dockerMethod struct{ ctr *remote.Container }

func (dockerMethod) name() string           { return MethodDocker }
func (dockerMethod) found() *remote.Install { return nil }

// claim claims the container's agent unless it is claimed and online.
func (m dockerMethod) claim(ctx context.Context, r *hostRun) error {
	if done, err := m.open(ctx, r, true); done || err != nil {
		return err
	}
	return m.claimSteps(ctx, r)
}

// reconcile claims as claim does.
func (m dockerMethod) reconcile(ctx context.Context, r *hostRun) error { return m.claim(ctx, r) }

func (m dockerMethod) verify(ctx context.Context, r *hostRun) error {
	if _, err := m.open(ctx, r, false); err != nil {
		return err
	}
	return r.c.verifyState(ctx, r)
}

// reclaim is not done: the claim lives in the container's volume.
func (m dockerMethod) reclaim(ctx context.Context, r *hostRun) error {
	if done, err := m.open(ctx, r, true); done || err != nil {
		return err
	}
	return fail(CatMethodUnavailable, "reclaim of a container is not available: recreate the container with a new volume instead")
}

func (m dockerMethod) unclaim(context.Context, *hostRun) error {
	return fail(CatMethodUnavailable, "unclaiming a container is not done by fleetclaim: recreate it without NETDATA_CLAIM_* and with an empty /var/lib/netdata/cloud.d")
}

// open finds the agent in the container (a probe inside it) and the
// runner that may use docker. done: a claimed agent was found online
// (when asked to look, and without --force), which is the run's end.
func (m dockerMethod) open(ctx context.Context, r *hostRun, look bool) (done bool, err error) {
	ctr := m.ctr
	if w := seccompLimited(r.facts); w != "" {
		r.res.Warnings = append(r.res.Warnings, w)
	}
	// Docker needs its socket: the probe saw it (and the containers) as
	// the user it ran as, so docker runs with the probe's runner.
	run, err := r.dockerRunner()
	if err != nil {
		return false, err
	}
	inner, err := r.probeContainer(ctx, run, ctr)
	if err != nil {
		return false, err
	}
	inst, err := pickInstall(inner)
	if err != nil {
		return false, &Error{Category: CategoryOf(err), Msg: "container " + ctr.Name, Err: err}
	}
	r.setInstall(inst)
	r.res.InstallType = orDefault(inst.InstallType, "oci")
	if g, err := chooseMethod("auto", inst); err != nil {
		return false, err
	} else if g.name() != MethodClaimConf {
		return false, fail(CatMethodUnavailable, "the agent in container %s is v%s: recreate the container with NETDATA_CLAIM_TOKEN, NETDATA_CLAIM_ROOMS and NETDATA_CLAIM_URL", ctr.Name, orDefault(inst.Version, "1"))
	}
	r.ctr, r.dockerRun = ctr, run
	return look && m.online(ctx, r), nil
}

// online reports a container's agent claimed and online already (and
// records it so), unless --force.
func (m dockerMethod) online(ctx context.Context, r *hostRun) bool {
	if !r.inst.Claimed() || r.c.opts.Force {
		return false
	}
	st, err := r.c.state(ctx, r)
	if err != nil || !st.Online {
		return false
	}
	r.res.setState(st)
	r.res.Status = StatusAlreadyClaimed
	r.res.Message = "already claimed and online (container " + m.ctr.Name + ")"
	return true
}

// claimSteps install the CA chain (when ca_file is set), write claim.conf
// and reload, then wait until online; the token and the chain travel on
// docker exec's stdin.
func (m dockerMethod) claimSteps(ctx context.Context, r *hostRun) error {
	ctr, inst, run := m.ctr, r.inst, r.dockerRun
	var conf string
	var ca []byte
	if !r.dry { // a plan reads no token
		var err error
		if conf, ca, err = r.c.claimConfInputs(r.h); err != nil {
			return err
		}
	}
	r.warnNoVolume(ctx, run, ctr, inst)
	r.planAs(run)
	if r.h.Claim.CAFile != "" {
		line := "docker exec -i " + ctr.Name + ": install " + r.h.Claim.CAFile + " as " + path.Join(inst.VarLibDir, "cloud.d/trusted.pem") + " (" + caCovers + ")"
		if err := r.wet("ca-chain", []string{line}, func() error { return r.containerCA(ctx, run, ctr, inst, ca) }); err != nil {
			return err
		}
	}
	plan := []string{fmt.Sprintf("docker exec -i %s: write %s (content on stdin)", ctr.Name, path.Join(inst.ConfigDir, "claim.conf")),
		"docker exec " + ctr.Name + " netdatacli reload-claiming-state"}
	if err := r.wet("claim", plan, func() error { return r.containerClaimConf(ctx, run, ctr, inst, conf) }); err != nil {
		return err
	}
	what := "claimed in container " + ctr.Name
	if err := r.wet("verify", []string{waitLine}, func() error { return r.c.waitOnline(ctx, r, StatusClaimed, what) }); err != nil {
		return err
	}
	r.planned("would claim the agent in container " + ctr.Name)
	return nil
}

// containerState asks the agent in the container with netdatacli.
func (c *Claimer) containerState(ctx context.Context, r *hostRun) (CloudState, error) {
	cmd, err := dockerExec(r.ctr.Name, false, r.inst.CLI, "aclk-state", "json")
	if err != nil {
		return CloudState{}, err
	}
	res, err := r.use(r.dockerRun).Run(ctx, cmd, nil)
	if err != nil {
		return CloudState{}, err
	}
	if res.ExitCode == 255 {
		return CloudState{}, fail(CatAgentNotRunning, "netdatacli cannot reach the agent in %s", r.ctr.Name)
	}
	return ParseACLKStateJSON(res.Stdout)
}

// probeContainer probes the agent inside the container.
func (r *hostRun) probeContainer(ctx context.Context, run remote.Runner, ctr *remote.Container) (*remote.ProbeFacts, error) {
	probe, err := dockerExec(ctr.Name, true, "sh", "-s", "--", r.h.Claim.NetdataPrefix, "", "")
	if err != nil {
		return nil, err
	}
	var inner *remote.ProbeFacts
	err = r.step("probe-container", func() error {
		res, err := r.use(run).Run(ctx, probe, strings.NewReader(remote.ProbeScript()))
		if err != nil {
			return err
		}
		inner, err = remote.ParseProbe(res.Stdout)
		if err != nil {
			return fail(CatAgentNotRunning, "cannot probe inside container %s (exit %d): %v: %s", ctr.Name, res.ExitCode, err, remote.Clip(strings.TrimSpace(string(res.Stderr)), 200))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inner, nil
}

// containerCA installs the CA chain into the container's cloud.d, content
// on stdin.
func (r *hostRun) containerCA(ctx context.Context, run remote.Runner, ctr *remote.Container, inst *remote.Install, ca []byte) error {
	cmd, err := dockerExec(ctr.Name, true, "sh", "-c", libCode+dockerCAScript, "sh", path.Join(inst.VarLibDir, "cloud.d"), inst.ConfigDir, inst.RunAsUser)
	if err != nil {
		return err
	}
	res, err := r.use(run).Run(ctx, cmd, strings.NewReader(string(ca)))
	if err != nil {
		return err
	}
	if out := parseKV(res.Stdout); out["fleetclaim-error"] != "" || out["written"] != "1" {
		return fail(CatWriteFailed, "cannot install the CA chain in container %s (exit %d): %s", ctr.Name, res.ExitCode, remote.Clip(strings.TrimSpace(string(res.Stderr)), 200))
	}
	return nil
}

// containerClaimConf writes claim.conf in the container (content on stdin)
// and has the agent reload its claiming state.
func (r *hostRun) containerClaimConf(ctx context.Context, run remote.Runner, ctr *remote.Container, inst *remote.Install, conf string) error {
	cmd, err := dockerExec(ctr.Name, true, "sh", "-c", libCode+dockerClaimConfScript, "sh", inst.ConfigDir, inst.CLI, inst.RunAsUser)
	if err != nil {
		return err
	}
	res, err := r.use(run).Run(ctx, cmd, strings.NewReader(conf))
	if err != nil {
		return err
	}
	if parseKV(res.Stdout)["env-token"] == "1" {
		r.res.Warnings = append(r.res.Warnings, "container "+ctr.Name+" has NETDATA_CLAIM_TOKEN in its environment: the agent tries it whenever the claim from claim.conf fails")
	}
	return r.readReload(res, inst.CLI, "container "+ctr.Name)
}

// dockerRunner is the runner docker commands use: the probe's own, when
// the probe could reach docker's socket (or saw containers) with it; the
// facts say nothing of any other user's access.
func (r *hostRun) dockerRunner() (remote.Runner, error) {
	f := r.facts
	switch {
	case f.DockerSocket == "accessible" || f.DockerSocket == "remote" || len(f.Containers) > 0:
		return r.probeRun, nil
	case r.becomeErr != nil:
		return nil, &Error{Category: CategoryOf(r.becomeErr), Msg: "docker's socket is not accessible to " + f.User + ", and " + r.h.Become + " refused", Err: r.becomeErr}
	}
	as, _ := r.who(r.probeRun)
	return nil, fail(CatNoPrivilege, "docker's socket is not accessible to %s (add the user to the docker group, or set become: sudo)", as)
}

// mountsFormat lists a container's mount destinations, one a line.
const mountsFormat = "{{range .Mounts}}{{println .Destination}}{{end}}"

// warnNoVolume warns when the agent's var lib dir is on no volume of the
// container: its claim (cloud.d) and machine GUID go with the container.
// Nothing is said when docker inspect cannot tell.
func (r *hostRun) warnNoVolume(ctx context.Context, run remote.Runner, ctr *remote.Container, inst *remote.Install) {
	q := &remote.Quoter{}
	cmd := "docker inspect --format " + q.Q(mountsFormat) + " " + q.Q(ctr.Name)
	if q.Err != nil {
		return
	}
	res, err := r.use(run).Run(ctx, cmd, nil)
	if err != nil || res.ExitCode != 0 {
		return
	}
	if !onVolume(inst.VarLibDir, strings.Split(string(res.Stdout), "\n")) {
		r.res.Warnings = append(r.res.Warnings, "container "+ctr.Name+": "+inst.VarLibDir+" is not on a volume, so the claim is lost with the container (mount a volume there, e.g. -v netdatalib:/var/lib/netdata)")
	}
}

// onVolume reports whether dir is one of the mount destinations or under one.
func onVolume(dir string, mounts []string) bool {
	for _, m := range mounts {
		m = strings.TrimRight(strings.TrimSpace(m), "/")
		if m != "" && (dir == m || strings.HasPrefix(dir, m+"/")) {
			return true
		}
	}
	return false
}
