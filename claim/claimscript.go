package claim

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

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
	if root && in.RunAsUser != "" && in.RunAsUser != "netdata" && in.RunAsUser != "root" {
		args = append(args, "-user="+in.RunAsUser)
	}
	return args
}

func claimScriptPlan(h *inventory.Host, in *remote.Install, newIdentity bool) []string {
	p := []string{}
	if h.Claim.CAFile != "" {
		p = append(p, "install "+h.Claim.CAFile+" as "+path.Join(in.VarLibDir, "cloud.d/cloud_fullchain.pem"))
	}
	id := ""
	if newIdentity {
		id = "<new uuid>"
	}
	p = append(p,
		"write the token to "+path.Join(in.VarLibDir, "cloud.d/token")+" (mode 0600, owner "+in.RunAsUser+")",
		"run "+in.ClaimScript+" "+h.Claim.Proxy.Redact(strings.Join(claimScriptArgs(h, in, true, id), " ")),
		"remove "+path.Join(in.VarLibDir, "cloud.d/token"),
		"wait until the agent reports online")
	return p
}

// claimScript claims a v1 agent with its netdata-claim.sh, in one session.
func (c *Claimer) claimScript(ctx context.Context, r *hostRun, reset *resetPlan) error {
	h, in := r.h, r.inst
	if in.ClaimScript == "" {
		return fail(CatCommandNotFound, "netdata-claim.sh not found next to %s", orDefault(in.Binary, in.ConfigDir))
	}
	token, ca, err := c.claimInputs(h)
	if err != nil {
		return err
	}
	if err := checkINIValue("token", token.Reveal()); err != nil {
		return err
	}
	newID := ""
	if reset != nil && reset.NewIdentity {
		newID = newUUID()
	} else if in.MachineGUID != "" && !inventory.IsUUID(in.MachineGUID) {
		return fail(remote.CatInvalidValue, "the agent's machine GUID file does not hold a UUID (%q): netdata-claim.sh would eval it; not run", clip(in.MachineGUID, 60))
	}
	script, err := claimScriptScript(h, in, token.Reveal(), ca, reset, newID)
	if err != nil {
		return err
	}
	res, err := remote.RunScript(ctx, r.priv, script)
	if err != nil {
		return err
	}
	out := parseKV(res.Stdout)
	if e := out["fleetclaim-error"]; e != "" {
		return scriptError(e, res)
	}
	if out["token-removed"] != "1" {
		r.res.Warnings = append(r.res.Warnings, "could not confirm that cloud.d/token was removed")
	}
	rc, convErr := strconv.Atoi(out["claim-rc"])
	if convErr != nil {
		return fail(CatWriteFailed, "the claim did not finish (exit %d): %s", res.ExitCode, clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	msg := strings.Join(outLines(res.Stdout, "claim-out="), "\n")
	if id := out["claimed-id"]; id != "" {
		r.res.ClaimedID = id
	}
	if rc == 5 {
		// Claimed, but the running agent was not told: restart it.
		cmd, serr := serviceCommand(r.facts, in, h.Claim.NetdataPrefix != "", "restart")
		if serr != nil {
			return fail(CatAgentNotRunning, "claimed, but the agent could not be told and cannot be restarted: %v", serr)
		}
		rr, err := r.priv.Run(ctx, cmd+" >/dev/null 2>&1", nil)
		if err != nil {
			return err
		}
		if rr.ExitCode != 0 {
			return fail(CatAgentNotRunning, "claimed, but the agent did not restart (%s exited %d)", cmd, rr.ExitCode)
		}
		r.res.Plan = append(r.res.Plan, "restarted the agent after its claim ("+cmd+")")
		return nil
	}
	if rc != 0 {
		return claimScriptFailure(rc, msg)
	}
	return nil
}

// claimScriptFailure maps netdata-claim.sh's exit code (and its message) to
// a category.
func claimScriptFailure(rc int, msg string) error {
	l := strings.ToLower(msg)
	m := clip(strings.TrimSpace(msg), 300)
	if m == "" {
		m = "no message"
	}
	switch {
	case strings.Contains(l, "hostname validation") || strings.Contains(l, "openssl") && (strings.Contains(l, "old") || strings.Contains(l, "version")):
		return fail(CatOldOpenSSL, "netdata-claim.sh exited %d: %s", rc, m)
	case rc == 4 && (strings.Contains(l, "certificate") || strings.Contains(l, "ssl")):
		return fail(CatCertificate, "netdata-claim.sh exited %d: %s", rc, m)
	}
	cat, what := CatClaimFailed, "failed"
	switch rc {
	case 1:
		cat, what = CatClaimFailed, "rejected an option"
	case 2:
		cat, what = CatWriteFailed, "could not use cloud.d or its key"
	case 3:
		if strings.Contains(l, "disable-cloud") {
			cat, what = CatUnsupportedInstall, "reports a build without Cloud"
		} else {
			cat, what = CatCommandNotFound, "needs curl or wget and openssl"
		}
	case 4:
		cat, what = CatCloudUnreachable, "cannot connect to the Cloud url"
	case 6:
		cat, what = CatNoPrivilege, "must run as root or the agent's run-as user"
	case 7, 14, 15, 16, 17:
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

// claimScriptScript builds the script that runs netdata-claim.sh. The token
// travels in a here-document with a random delimiter.
func claimScriptScript(h *inventory.Host, in *remote.Install, token string, ca []byte, reset *resetPlan, newID string) (string, error) {
	delim, ca, err := hereDocs(ca, token)
	if err != nil {
		return "", err
	}
	q := &remote.Quoter{}
	cloudD := q.Q(path.Join(in.VarLibDir, "cloud.d"))
	runAs := q.Q(in.RunAsUser)
	script := q.Q(in.ClaimScript)
	argsRoot := q.Join(claimScriptArgs(h, in, true, newID))
	argsUser := q.Join(claimScriptArgs(h, in, false, newID))
	if q.Err != nil {
		return "", q.Err
	}
	var b strings.Builder
	b.WriteString(scriptPreamble)
	b.WriteString(`fail() { echo "fleetclaim-error=$1"; [ -n "${tok:-}" ] && rm -f "$tok" && echo token-removed=1; rm -f "${catmp:-}" 2>/dev/null; exit 0; }` + "\n")
	b.WriteString(rootCheck)
	if reset != nil {
		fmt.Fprintf(&b, "%s >/dev/null 2>&1; echo \"stop-rc=$?\"\n", reset.Stop)
		fmt.Fprintf(&b, "rm -rf %s || fail remove-cloud.d\n", cloudD)
		if reset.NewIdentity {
			lib := in.VarLibDir
			q2 := &remote.Quoter{}
			fmt.Fprintf(&b, "rm -f %s %s || fail remove-identity\n",
				q2.Q(path.Join(lib, "status-netdata.json")), q2.Q(path.Join(cacheDir(lib), "status-netdata.json")))
			if q2.Err != nil {
				return "", q2.Err
			}
		}
		fmt.Fprintf(&b, "%s >/dev/null 2>&1 || fail start-agent\n", reset.Start)
		b.WriteString("echo reset=1\n")
	}
	// cloud.d is made for the agent when missing; an existing one is left
	// as it is (netdata-claim.sh, run as root, gives it to the agent's user).
	chownToAgent := in.RunAsUser != "root"
	fmt.Fprintf(&b, "if [ ! -d %s ]; then mkdir -p %s || fail write-cloud.d\n", cloudD, cloudD)
	if chownToAgent {
		fmt.Fprintf(&b, "  if [ $root = yes ]; then chown %s %s 2>/dev/null; chmod 0770 %s; fi\n", runAs, cloudD, cloudD)
	}
	b.WriteString("fi\n")
	if len(ca) > 0 {
		writeCAChain(&b, delim, ca, cloudD)
		if chownToAgent {
			fmt.Fprintf(&b, "if [ $root = yes ]; then chown %s %s/cloud_fullchain.pem 2>/dev/null; fi\n", runAs, cloudD)
		}
	}
	// The token file exists with its final mode (umask 077: 0600) and
	// owner before the token is written into it.
	fmt.Fprintf(&b, "tok=%s/token\n", cloudD)
	b.WriteString(freshFile("tok", "write-token"))
	if chownToAgent {
		b.WriteString(": > \"$tok\" || fail write-token\n")
		fmt.Fprintf(&b, "if [ $root = yes ]; then chown %s \"$tok\" || fail write-token; fi\n", runAs)
	}
	fmt.Fprintf(&b, "cat > \"$tok\" <<'%s' || fail write-token\n%s\n%s\n", delim, token, delim)
	fmt.Fprintf(&b, "if [ $root = yes ]; then out=$(%s %s 2>&1 </dev/null); rc=$?; else out=$(%s %s 2>&1 </dev/null); rc=$?; fi\n",
		script, argsRoot, script, argsUser)
	b.WriteString("rm -f \"$tok\" && [ ! -e \"$tok\" ] && echo token-removed=1\n")
	b.WriteString("echo \"claim-rc=$rc\"\n")
	fmt.Fprintf(&b, "[ -r %s/claimed_id ] && { c=; read -r c < %s/claimed_id; echo \"claimed-id=$c\"; }\n", cloudD, cloudD)
	b.WriteString(emitLines("claim-out", "out"))
	return b.String(), nil
}
