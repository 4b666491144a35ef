package claim

import (
	"context"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// The v1 method: netdata-claim.sh talks to Cloud itself. The token goes into
// cloud.d/token, a file created with its final owner and mode before the
// token is written into it, and removed afterwards whatever the outcome: the
// script deletes it only when the claim worked. The token is never on a
// command line.

// claimScriptArgs are netdata-claim.sh's options for a host (no token).
// root says the script runs as root, where -user= names the run-as user.
func claimScriptArgs(h *inventory.Host, in *remote.Install, root bool, newID string) []string {
	c := h.Claim
	args := []string{"-rooms=" + strings.Join(c.Rooms, ",")}
	if c.URL != "" {
		args = append(args, "-url="+c.URL)
	}
	switch {
	case c.Proxy.IsNone():
		args = append(args, "-noproxy")
	case c.Proxy.HasCredentials():
		// A secret: it goes in the environment (claimscript.sh), not here.
	case c.Proxy.IsURL():
		args = append(args, "-proxy="+c.Proxy.Reveal())
	}
	if c.Insecure {
		args = append(args, "-insecure")
	}
	// The claim id is part of the url the script evals: without -id= it
	// reads the GUID file, which the agent's user owns (netdata v1.37.1
	// claim/netdata-claim.sh.in:171-173, 266, 330). Give it the probed GUID.
	if newID == "" {
		newID = in.MachineGUID
	}
	if newID != "" {
		args = append(args, "-id="+newID)
	}
	if c.Hostname != "" {
		args = append(args, "-hostname="+c.Hostname)
	}
	if u := rootUserArg(in); root && u != "" {
		args = append(args, "-user="+u)
	}
	return args
}

// rootUserArg is the user netdata-claim.sh run as root is told to give
// cloud.d to (-user=), when it is not the script's default.
func rootUserArg(in *remote.Install) string {
	if in.RunAsUser != "" && in.RunAsUser != "netdata" && in.RunAsUser != "root" {
		return in.RunAsUser
	}
	return ""
}

// scriptMethod claims a v1 agent with its own netdata-claim.sh, which
// talks to Cloud itself.
type scriptMethod struct{ installed }

func (scriptMethod) name() string { return MethodClaimScript }

func (m scriptMethod) claim(ctx context.Context, r *hostRun) error   { return m.claimWith(ctx, r, m) }
func (m scriptMethod) reclaim(ctx context.Context, r *hostRun) error { return m.reclaimWith(ctx, r, m) }
func (m scriptMethod) reconcile(ctx context.Context, r *hostRun) error {
	return m.reconcileWith(ctx, r, m)
}

// forceResets: with --force, netdata-claim.sh claims a claimed agent again.
func (scriptMethod) forceResets() bool { return false }

func (m scriptMethod) claimSteps(ctx context.Context, r *hostRun) error {
	return r.claimAndWait(ctx, claimScriptLines(r.h, m.inst, false),
		func() error { return r.c.claimScript(ctx, r, nil) }, "would claim with netdata-claim.sh")
}

// resetSteps: the script stops the agent, removes cloud.d, starts the
// agent again, then runs netdata-claim.sh, which needs the agent running.
func (m scriptMethod) resetSteps(ctx context.Context, r *hostRun, why string) error {
	reset, err := r.resetFor()
	if err != nil {
		return err
	}
	plan := append(reset.lines(r, why), "start the agent ("+reset.Start+")")
	plan = append(plan, claimScriptLines(r.h, m.inst, reset.NewIdentity)...)
	return r.resetAndWait(ctx, why, plan, func() error { return r.c.claimScript(ctx, r, reset) })
}

// claimScriptLines are what claimScript does, as a plan says it.
func claimScriptLines(h *inventory.Host, in *remote.Install, newIdentity bool) []string {
	p := []string{}
	if h.Claim.CAFile != "" {
		p = append(p, "install "+h.Claim.CAFile+" as "+path.Join(in.VarLibDir, "cloud.d/cloud_fullchain.pem")+" ("+caCovers+")")
	}
	id := ""
	if newIdentity {
		id = "<new uuid>"
	}
	return append(p,
		"write the token to "+path.Join(in.VarLibDir, "cloud.d/token")+" (mode 0600, owner "+in.RunAsUser+")",
		"run "+in.ClaimScript+" "+h.Claim.Proxy.Redact(strings.Join(claimScriptArgs(h, in, true, id), " "))+proxyInEnv(h.Claim.Proxy),
		"remove "+path.Join(in.VarLibDir, "cloud.d/token"))
}

// proxyInEnv notes, in a plan, a proxy that reaches netdata-claim.sh
// through its environment.
func proxyInEnv(proxy inventory.Proxy) string {
	if proxy.HasCredentials() {
		return " (the proxy, which has credentials, in its environment)"
	}
	return ""
}

// claimScript claims a v1 agent with its netdata-claim.sh, in one session.
func (c *Claimer) claimScript(ctx context.Context, r *hostRun, reset *resetPlan) error {
	h, in := r.h, r.inst
	token, ca, newID, err := c.claimScriptInputs(r, reset)
	if err != nil {
		return err
	}
	var svc resetPlan
	if reset == nil {
		svc.Stop, svc.Start = r.serviceCommands()
	}
	script, args, err := buildClaimScript(h, in, token.Reveal(), ca, reset, newID, svc)
	if err != nil {
		return err
	}
	res, err := remote.RunScript(ctx, r.priv, script, args...)
	if err != nil {
		r.removeToken(ctx)
		return err
	}
	out := parseKV(res.Stdout)
	if e := out["fleetclaim-error"]; e != "" {
		return scriptError(e, res)
	}
	r.noteService(out, svc.Start)
	r.noteClaimScript(out)
	rc, convErr := strconv.Atoi(out["claim-rc"])
	if convErr != nil {
		return fail(CatWriteFailed, "the claim did not finish (exit %d): %s", res.ExitCode, remote.Clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	// cloud.d/claimed_id is the agent's user's file: a UUID or nothing.
	if id := out["claimed-id"]; remote.IsUUID(id) {
		r.res.ClaimedID = id
	}
	switch rc {
	case 0:
		return nil
	case 5:
		// Claimed, but the running agent was not told: claimscript.sh
		// restarted it (claimRestart).
		return r.claimRestart(out)
	}
	return claimScriptFailure(rc, strings.Join(outLines(res.Stdout, "claim-out="), "\n"))
}

// claimScriptInputs are what a v1 claim sends: the token (checked for a
// line break), the CA chain and, with a new identity, the new node id;
// the agent's machine GUID, which netdata-claim.sh evals, must be a UUID.
func (c *Claimer) claimScriptInputs(r *hostRun, reset *resetPlan) (token inventory.Secret, ca []byte, newID string, err error) {
	in := r.inst
	if in.ClaimScript == "" {
		return token, nil, "", fail(CatCommandNotFound, "netdata-claim.sh not found next to %s", orDefault(in.Binary, in.ConfigDir))
	}
	if token, ca, err = c.claimInputs(r.h); err != nil {
		return token, nil, "", err
	}
	if err := checkINIValue("token", token.Reveal()); err != nil {
		return token, nil, "", err
	}
	switch {
	case reset != nil && reset.NewIdentity:
		newID = newUUID()
	case in.MachineGUID != "" && !inventory.IsUUID(in.MachineGUID):
		return token, nil, "", fail(remote.CatInvalidValue, "the agent's machine GUID file does not hold a UUID (%q): netdata-claim.sh would eval it; not run", remote.Clip(in.MachineGUID, 60))
	}
	return token, ca, newID, nil
}

// noteClaimScript warns of what claimscript.sh printed that the claim
// leaves undone: a proxy with credentials the link cannot use, a token
// file not confirmed removed.
func (r *hostRun) noteClaimScript(out map[string]string) {
	if r.h.Claim.Proxy.HasCredentials() {
		r.res.Warnings = append(r.res.Warnings, "the proxy has credentials: a v1 agent's link reads its proxy from netdata.conf, readable by every user, so it was not written there and the link does not use it")
	}
	if out["token-removed"] != "1" {
		r.res.Warnings = append(r.res.Warnings, "could not confirm that cloud.d/token was removed")
	}
}

// What netdata-claim.sh prints that its exit code alone does not tell
// (claim/netdata-claim.sh.in at v1.37.1; src/claim/netdata-claim.sh.in at
// v1.47.5 has the same lines), matched as whole lines.
var (
	// v1Connect is attempt_contact's line when curl got no answer, with
	// curl's exit code (v1.37.1:342). After three of them the script exits 7,
	// not 4: its retry loop's exit test cannot match (v1.37.1:355-367).
	v1Connect = regexp.MustCompile(`(?m)^Failed to connect to .*, return code ([0-9]+)$`)
	// v1NoCloud are the build-time guards (v1.37.1:121-129): exit 3.
	v1NoCloud = []string{
		"This agent was built with --disable-cloud and cannot be claimed",
		"This agent was built without the dependencies for Cloud and cannot be claimed",
	}
)

// curlCertificateExits are curl's exit codes for a certificate it does not
// trust (curl(1), EXIT CODES): 60 peer verification, 77 the CA file, 83 the
// issuer check.
var curlCertificateExits = map[string]bool{"60": true, "77": true, "83": true}

// claimScriptFailure maps netdata-claim.sh's exit code (and its output) to
// a category.
func claimScriptFailure(rc int, msg string) error {
	m := clipTail(strings.TrimSpace(msg), 300)
	if m == "" {
		m = "no message"
	}
	cat, what := CatClaimFailed, "failed"
	switch rc {
	case 1:
		cat, what = CatClaimFailed, "rejected an option"
	case 2:
		cat, what = CatWriteFailed, "could not use cloud.d or its key"
	case 3:
		if hasLine(msg, v1NoCloud...) {
			cat, what = CatUnsupportedInstall, "reports a build without Cloud"
		} else {
			cat, what = CatCommandNotFound, "needs curl or wget and openssl"
		}
	case 4:
		cat, what = CatCloudUnreachable, "cannot connect to the Cloud url"
	case 6:
		cat, what = CatNoPrivilege, "must run as root or the agent's run-as user"
	case 7:
		cat, what = CatCloudError, "got an error answer from Cloud"
		if sm := v1Connect.FindAllStringSubmatch(msg, -1); sm != nil {
			cat, what = CatCloudUnreachable, "could not reach the Cloud url (curl exit "+sm[len(sm)-1][1]+")"
			if curlCertificateExits[sm[len(sm)-1][1]] {
				cat, what = CatCertificate, "does not trust the Cloud url's certificate (curl exit "+sm[len(sm)-1][1]+")"
			}
		}
	case 14, 15, 16, 17:
		cat, what = CatCloudError, "got an error answer from Cloud"
	case 8, 9, 11:
		cat, what = CatInvalidNode, "was refused: invalid node id, name or key"
	case 10:
		cat, what = CatRoomInvalid, "was refused: a room id is invalid"
	case 12:
		cat, what = CatTokenRejected, "was refused: the token is unknown or expired"
	case 13:
		cat, what = CatAlreadyClaimedElse, "was refused: the node is already claimed"
	case 18:
		cat, what = CatNoMachineGUID, "cannot read the machine GUID"
	}
	return fail(cat, "netdata-claim.sh %s (exit %d): %s", what, rc, m)
}

// hasLine reports whether one of the lines of s is one of want.
func hasLine(s string, want ...string) bool {
	for _, l := range strings.Split(s, "\n") {
		for _, w := range want {
			if strings.TrimSpace(l) == w {
				return true
			}
		}
	}
	return false
}

// clipTail keeps the last n bytes of s: a script's last lines say why it
// stopped.
func clipTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// buildClaimScript returns claimscript.sh with its inputs (the token, the
// CA chain and a proxy with credentials) and its parameters.
func buildClaimScript(h *inventory.Host, in *remote.Install, token string, ca []byte, reset *resetPlan, newID string, svc resetPlan) (string, []string, error) {
	proxy := ""
	if h.Claim.Proxy.HasCredentials() {
		proxy = h.Claim.Proxy.Reveal()
	}
	script, err := hostScript(claimScriptCode, append(caInputs(ca), scriptInput{"FC_TOKEN", token}, scriptInput{"FC_PROXY", proxy},
		scriptInput{"FC_CLOUD_PROXY", v1CloudProxy(h.Claim.Proxy)})...)
	if err != nil {
		return "", nil, err
	}
	userArg := ""
	if u := rootUserArg(in); u != "" {
		userArg = "-user=" + u
	}
	flags := ""
	if reset != nil {
		flags = "reset"
	}
	stop, start, ids := resetArgs(reset, in.VarLibDir, h.Claim.NetdataPrefix)
	if reset == nil {
		stop, start = svc.Stop, svc.Start
	}
	args := []string{in.ConfigDir, in.VarLibDir, agentOwner(in), in.ClaimScript, userArg, flags, stop, start, in.CLI, strconv.Itoa(len(ids))}
	args = append(args, ids...)
	return script, append(args, claimScriptArgs(h, in, false, newID)...), nil
}

// removeToken removes cloud.d/token (and root's temporary directories)
// after a v1 claim that did not finish, in a context of its own: the
// claim's may be over.
func (r *hostRun) removeToken(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenCleanupTimeout)
	defer cancel()
	if !r.cleanupToken(cctx) {
		r.res.Warnings = append(r.res.Warnings, "the claim did not finish and cloud.d/token could not be confirmed removed")
	}
}

// cleanupToken runs tokencleanup.sh (after lib.sh) on the install and
// reports whether no token is left.
func (r *hostRun) cleanupToken(ctx context.Context) bool {
	script, err := hostScript(tokenCleanupScript)
	if err != nil {
		return false
	}
	res, err := remote.RunScript(ctx, r.priv, script, path.Join(r.inst.VarLibDir, "cloud.d"), r.inst.ConfigDir)
	return err == nil && parseKV(res.Stdout)["token-removed"] == "1"
}

// tokenCleanupTimeout bounds removeToken.
const tokenCleanupTimeout = 15 * time.Second

// v1CloudProxy is the proxy a v1 claim writes to netdata.conf's [cloud]
// section for the agent's link: the inventory's, but none with
// credentials (netdata.conf is readable by every user), and nothing for
// "none", "env" or no proxy, which leave the agent's own setting alone.
func v1CloudProxy(p inventory.Proxy) string {
	if p.IsURL() && !p.HasCredentials() {
		return p.Reveal()
	}
	return ""
}
