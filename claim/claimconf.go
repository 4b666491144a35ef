package claim

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// claimConfText renders claim.conf for a v2 agent.
func claimConfText(h *inventory.Host, token inventory.Secret) (string, error) {
	c := h.Claim
	vals := [][2]string{{"url", c.URL}, {"token", token.Reveal()}, {"rooms", strings.Join(c.Rooms, ",")}}
	if !c.Proxy.IsZero() {
		vals = append(vals, [2]string{"proxy", c.Proxy.Reveal()})
	}
	vals = append(vals, [2]string{"insecure", fmtBool(c.Insecure)})
	var b strings.Builder
	b.WriteString("[global]\n")
	for _, kv := range vals {
		if err := checkINIValue(kv[0], kv[1]); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "    %s = %s\n", kv[0], kv[1])
	}
	return b.String(), nil
}

func claimConfPlan(h *inventory.Host, in *remote.Install) []string {
	p := []string{}
	if h.Claim.CAFile != "" {
		p = append(p, "install "+h.Claim.CAFile+" as "+path.Join(in.VarLibDir, "cloud.d/cloud_fullchain.pem"))
	}
	p = append(p,
		fmt.Sprintf("write %s (url %s, rooms %s, proxy %s)", path.Join(in.ConfigDir, "claim.conf"), h.Claim.URL, strings.Join(h.Claim.Rooms, ","), orDefault(h.Claim.Proxy.String(), "agent default")),
		"run netdatacli reload-claiming-state",
		"wait until the agent reports online")
	return p
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// claimConf writes claim.conf (and the CA chain) atomically and asks the
// agent to reload its claiming state, all in one session. The token travels
// on the session's stdin, never on a command line.
func (c *Claimer) claimConf(ctx context.Context, r *hostRun, reset *resetPlan) error {
	h, in := r.h, r.inst
	conf, ca, err := c.claimConfInputs(h)
	if err != nil {
		return err
	}
	script, args, err := buildClaimConfScript(claimConfSpec{In: in, Conf: conf, CA: ca, Reset: reset,
		CloudProxy: h.Claim.Proxy.Reveal(), AgentOwned: r.facts.Kernel == "Darwin"})
	if err != nil {
		return err
	}
	if h.Claim.Proxy.HasCredentials() {
		r.res.Warnings = append(r.res.Warnings, "the proxy has credentials: it is in claim.conf only, netdata.conf (readable by every user) was left alone")
	}
	res, err := remote.RunScript(ctx, r.priv, script, args...)
	if err != nil {
		return err
	}
	return r.readReload(res, in.CLI, "")
}

// claimInputs reads what every method sends: the host's claim token and the
// CA chain to install, if any.
func (c *Claimer) claimInputs(h *inventory.Host) (inventory.Secret, []byte, error) {
	if c.opts.Token == nil {
		return inventory.Secret{}, nil, fail(CatTokenUnavailable, "no claim token")
	}
	token, err := c.opts.Token(h)
	if err != nil {
		return inventory.Secret{}, nil, &Error{Category: CatTokenUnavailable, Msg: "claim token", Err: err}
	}
	var ca []byte
	if h.Claim.CAFile != "" {
		if ca, err = c.opts.ReadFile(h.Claim.CAFile); err != nil {
			return inventory.Secret{}, nil, &Error{Category: remote.CatInvalidValue, Msg: "ca_file", Err: err}
		}
	}
	return token, ca, nil
}

// claimConfInputs renders a host's claim.conf and reads its CA chain.
func (c *Claimer) claimConfInputs(h *inventory.Host) (string, []byte, error) {
	token, ca, err := c.claimInputs(h)
	if err != nil {
		return "", nil, err
	}
	conf, err := claimConfText(h, token)
	return conf, ca, err
}

// readReload reads what a claim.conf script printed: whether the file was
// written, and the agent's answer to reload-claiming-state. where names a
// container, when the script ran in one.
func (r *hostRun) readReload(res remote.Result, cli, where string) error {
	out := parseKV(res.Stdout)
	if e := out["fleetclaim-error"]; e != "" {
		return scriptError(e, res)
	}
	if where != "" {
		where = " in " + where
	}
	if out["written"] != "1" {
		return fail(CatWriteFailed, "the claim script did not finish%s (exit %d): %s", where, res.ExitCode, clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	reload := strings.Join(outLines(res.Stdout, "reload-out="), "\n")
	switch out["reload-rc"] {
	case "255":
		return fail(CatAgentNotRunning, "claim.conf written, but netdatacli cannot reach the agent%s: %s", where, clip(reload, 200))
	case "127":
		return fail(CatCommandNotFound, "claim.conf written, but %s could not be run%s: %s", cli, where, clip(reload, 200))
	}
	st, err := ParseReload(reload)
	if err != nil {
		return &Error{Category: CatClaimFailed, Err: err}
	}
	r.res.setState(st)
	switch st.Status {
	case "online", "offline":
		return nil
	case "banned":
		return fail(CatBanned, "%s", reload)
	}
	return reloadFailure(st.Reason)
}

// hasNumber reports whether s holds n as a number of its own (an HTTP
// status), not as digits of a longer number or a path: "HTTP 403" does,
// "/tmp/x8403/" does not.
func hasNumber(s, n string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], n)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(n)
		before := j == 0 || !isWordByte(s[j-1])
		after := end == len(s) || !isWordByte(s[end])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isWordByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == '/'
}

// reloadFailure turns the agent's failure reason into a category.
func reloadFailure(reason string) error {
	l := strings.ToLower(reason)
	cat := CatClaimFailed
	switch {
	case strings.Contains(reason, "ErrForbidden") || hasNumber(l, "403") || strings.Contains(l, "token"):
		cat = CatTokenRejected
	case strings.Contains(reason, "ErrInvalidRoomID") || strings.Contains(l, "room"):
		cat = CatRoomInvalid
	case strings.Contains(reason, "ErrAlreadyClaimed") || hasNumber(l, "409") || strings.Contains(l, "already claimed"):
		cat = CatAlreadyClaimedElse
	case strings.Contains(reason, "ErrInvalidNodeID") || strings.Contains(reason, "ErrInvalidNodeName") || strings.Contains(reason, "ErrInvalidPublicKey"):
		cat = CatInvalidNode
	case strings.Contains(l, "certificate") || strings.Contains(l, "x509") || strings.Contains(l, "ssl") || strings.Contains(l, "tls"):
		cat = CatCertificate
	case strings.Contains(reason, "ErrProcessingClaim") || strings.Contains(l, "in progress") ||
		hasNumber(l, "500") || hasNumber(l, "502") || hasNumber(l, "503") || hasNumber(l, "504") ||
		strings.Contains(l, "cloud is unavailable") || strings.Contains(l, "gateway timeout") || strings.Contains(l, "internal server error"):
		cat = CatCloudError
	case strings.Contains(l, "connect") || strings.Contains(l, "resolve") || strings.Contains(l, "timed out") || strings.Contains(l, "timeout") || strings.Contains(l, "proxy") || strings.Contains(l, "refused"):
		cat = CatCloudUnreachable
	}
	return fail(cat, "the agent is not claimed: %s", orDefault(reason, "no reason given"))
}

func scriptError(code string, res remote.Result) error {
	detail := clip(strings.TrimSpace(string(res.Stderr)), 300)
	at := parseKV(res.Stdout)["fleetclaim-path"]
	switch code {
	case "unsafe-path":
		return fail(CatUnsafePath, "%s is a symbolic link: not followed (the agent's user can write where it is)", at)
	case "no-config-dir":
		return fail(CatNotInstalled, "the agent's config directory is gone: %s", detail)
	case "start-agent":
		return fail(CatAgentNotRunning, "the agent did not start again after its claim was removed: %s", detail)
	case "remove-cloud.d", "remove-identity":
		return fail(CatWriteFailed, "could not %s: %s", strings.ReplaceAll(code, "-", " "), detail)
	case "write-ca", "write-cloud.d", "write-claim-conf", "write-netdata-conf", "write-tmp":
		if at != "" {
			detail = at + " is in the way: " + detail
		}
		return fail(CatWriteFailed, "%s failed (disk full or read-only?): %s", strings.TrimPrefix(code, "write-"), detail)
	}
	return fail(CatWriteFailed, "%s: %s", code, detail)
}

// claimConfSpec is everything the claim.conf script writes and runs.
type claimConfSpec struct {
	In    *remote.Install
	Conf  string
	CA    []byte
	Reset *resetPlan
	// CloudProxy, when set, is written to netdata.conf's [cloud] proxy as
	// well, as the seed instructs for proxied nodes; but never one with
	// credentials: netdata.conf is world-readable.
	CloudProxy string
	// AgentOwned: claim.conf belongs to the agent's user, mode 0600 (macOS),
	// instead of root:<agent group> 0640.
	AgentOwned bool
}

// buildClaimConfScript returns claimconf.sh with its inputs (claim.conf,
// which holds the token, and the CA chain) and its parameters.
func buildClaimConfScript(sp claimConfSpec) (string, []string, error) {
	in := sp.In
	if err := checkINIValue("proxy", sp.CloudProxy); err != nil {
		return "", nil, err
	}
	script, err := hostScript(claimConfCode, append(caInputs(sp.CA), scriptInput{"FC_CONF", sp.Conf})...)
	if err != nil {
		return "", nil, err
	}
	var flags []string
	if sp.AgentOwned {
		flags = append(flags, "agent-owned")
	}
	stop, start, ids := resetArgs(sp.Reset, in.VarLibDir, true)
	if sp.Reset != nil {
		flags = append(flags, "reset")
	}
	proxy := sp.CloudProxy
	if hasCredentials(proxy) {
		proxy = ""
	}
	args := []string{in.ConfigDir, path.Join(in.VarLibDir, "cloud.d"), agentOwner(in), in.CLI,
		strings.Join(flags, ","), stop, start, proxy}
	return script, append(args, ids...), nil
}

// agentOwner is who root gives the agent's files to: its run-as user, or
// nobody when the agent runs as root (root owns what root creates).
func agentOwner(in *remote.Install) string {
	if in.RunAsUser == "root" {
		return ""
	}
	return in.RunAsUser
}

// resetArgs are a reset's stop and start commands and the identity files it
// removes (with a new identity): the status files, and the machine GUID
// when withGUID (a v1 claim gives the node its new id with -id= instead).
func resetArgs(r *resetPlan, lib string, withGUID bool) (stop, start string, ids []string) {
	if r == nil {
		return "", "", nil
	}
	if r.NewIdentity {
		if withGUID {
			ids = append(ids, path.Join(lib, "registry", "netdata.public.unique.id"))
		}
		ids = append(ids, path.Join(lib, "status-netdata.json"), path.Join(cacheDir(lib), "status-netdata.json"))
	}
	return r.Stop, r.Start, ids
}

// parseKV reads key=value lines; the first value of a key wins.
func parseKV(b []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSuffix(l, "\r"), "=")
		if !ok {
			continue
		}
		if _, seen := m[k]; !seen {
			m[k] = v
		}
	}
	return m
}

func outLines(b []byte, prefix string) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			out = append(out, v)
		}
	}
	return out
}
