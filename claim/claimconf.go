package claim

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

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

// confMethod claims a v2 agent: claim.conf written next to netdata.conf,
// then netdatacli reload-claiming-state.
type confMethod struct{ installed }

func (confMethod) name() string { return MethodClaimConf }

func (m confMethod) claim(ctx context.Context, r *hostRun) error   { return m.claimWith(ctx, r, m) }
func (m confMethod) reclaim(ctx context.Context, r *hostRun) error { return m.reclaimWith(ctx, r, m) }
func (m confMethod) reconcile(ctx context.Context, r *hostRun) error {
	return m.reconcileWith(ctx, r, m)
}

// forceResets: a v2 agent ignores claim.conf while it holds a claimed id
// (netdata v2.11.0 src/claim/claim.c:165-170), so --force starts over.
func (confMethod) forceResets() bool { return true }

func (m confMethod) claimSteps(ctx context.Context, r *hostRun) error {
	return r.claimAndWait(ctx, claimConfLines(r.h, m.inst),
		func() error { return r.c.claimConf(ctx, r, nil) }, "would claim with claim.conf")
}

func (m confMethod) resetSteps(ctx context.Context, r *hostRun, why string) error {
	reset, err := r.resetFor()
	if err != nil {
		return err
	}
	plan := append(reset.lines(r, why), claimConfLines(r.h, m.inst)...)
	return r.resetAndWait(ctx, why, plan, func() error { return r.c.claimConf(ctx, r, reset) })
}

// claimConfLines are what claimConf does, as a plan says it.
func claimConfLines(h *inventory.Host, in *remote.Install) []string {
	p := []string{}
	if h.Claim.CAFile != "" {
		p = append(p, "install "+h.Claim.CAFile+" as "+path.Join(in.VarLibDir, "cloud.d/trusted.pem")+" ("+caCovers+")")
	}
	return append(p,
		fmt.Sprintf("write %s (url %s, rooms %s, proxy %s)", path.Join(in.ConfigDir, "claim.conf"), h.Claim.URL, strings.Join(h.Claim.Rooms, ","), orDefault(h.Claim.Proxy.String(), "agent default")),
		"start the agent if it is not running; restart it if the proxy changed (its Cloud link reads the proxy once, at start)",
		"run netdatacli reload-claiming-state")
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
	sp := claimConfSpec{In: in, Conf: conf, CA: ca, Reset: reset, Root: h.Claim.NetdataPrefix,
		CloudProxy: h.Claim.Proxy.Reveal(), AgentOwned: r.facts.Kernel == "Darwin"}
	if reset == nil {
		sp.Stop, sp.Start = r.serviceCommands()
	}
	script, args, err := buildClaimConfScript(sp)
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
	r.noteService(parseKV(res.Stdout), sp.Start)
	err = r.readReload(res, in.CLI, "")
	if errors.Is(err, ErrAgentInitializing) {
		return r.reloadWhenReady(ctx, in.CLI)
	}
	return err
}

// The wait for an agent that is starting up.
const (
	agentReadyWait = 30 * time.Second
	agentReadyPoll = 250 * time.Millisecond
)

// reloadWhenReady waits until `netdatacli ping` says the agent is ready
// (exit 0; 1 while it initializes, 255 while it cannot be reached:
// src/daemon/commands.c:72 at v2.11.0), then asks it again to reload its
// claiming state, which it did not do while initializing; claim.conf is
// written already.
func (r *hostRun) reloadWhenReady(ctx context.Context, cli string) error {
	q := &remote.Quoter{}
	qc := q.Q(cli)
	if q.Err != nil {
		return q.Err
	}
	deadline := time.Now().Add(agentReadyWait)
	for {
		res, err := remote.RunScript(ctx, r.priv, qc+" ping")
		if err != nil {
			return err
		}
		if res.ExitCode == 0 {
			break
		}
		if !time.Now().Before(deadline) {
			return fail(CatAgentNotRunning, "claim.conf written, but the agent was not ready after %s (netdatacli ping exited %d)", agentReadyWait, res.ExitCode)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(agentReadyPoll):
		}
	}
	res, err := remote.RunScript(ctx, r.priv, qc+" reload-claiming-state")
	if err != nil {
		return err
	}
	return r.reloadAnswer(strings.TrimSpace(string(res.Stdout)+"\n"+string(res.Stderr)), strconv.Itoa(res.ExitCode), cli, "")
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
		return fail(CatWriteFailed, "the claim script did not finish%s (exit %d): %s", where, res.ExitCode, remote.Clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	return r.reloadAnswer(strings.Join(outLines(res.Stdout, "reload-out="), "\n"), out["reload-rc"], cli, where)
}

// reloadAnswer reads the agent's answer to reload-claiming-state and the
// exit code of netdatacli.
func (r *hostRun) reloadAnswer(reload, rc, cli, where string) error {
	switch rc {
	case "255":
		return fail(CatAgentNotRunning, "claim.conf written, but netdatacli cannot reach the agent%s: %s", where, remote.Clip(reload, 200))
	case "127":
		return fail(CatCommandNotFound, "claim.conf written, but %s could not be run%s: %s", cli, where, remote.Clip(reload, 200))
	}
	st, err := ParseReload(reload)
	if err != nil {
		return &Error{Category: CatClaimFailed, Err: err}
	}
	r.res.setState(st)
	switch st.Status {
	case "online", "offline":
		return nil
	case "indirect":
		// Said before the agent's own claim is looked at (cloud-status.c:
		// 25-31 v2.11.0): the wait for online decides from the agent's own.
		r.res.Warnings = append(r.res.Warnings, indirectNote)
		return nil
	case "banned":
		return fail(CatBanned, "%s", reload)
	}
	return reloadFailure(st.Reason)
}

// claimReasons are the reasons a v2 agent gives for a claim that did not
// happen, as reload-claiming-state prints them after "Netdata Agent is not
// claimed to Netdata Cloud: " (src/claim/claim-with-api.c at v2.11.0; the
// same sentences since v2.0.0). Each is matched whole.
var claimReasons = map[string]Category{
	"Failed: the node id is invalid":                  CatInvalidNode,        // :403 (422 ErrInvalidNodeID)
	"Failed: the node name is invalid":                CatInvalidNode,        // :405 (422 ErrInvalidNodeName)
	"Failed: one or more room ids are invalid":        CatRoomInvalid,        // :407 (422 ErrInvalidRoomID)
	"Failed: the public key is invalid":               CatInvalidNode,        // :409 (422 ErrInvalidPublicKey)
	"Claiming is in progress":                         CatCloudError,         // :427 (102)
	"Failed: token is expired, not found, or invalid": CatTokenRejected,      // :431 (403)
	"Failed: agent is already claimed":                CatAlreadyClaimedElse, // :435 (409)
	"Failed: received Internal Server Error":          CatCloudError,         // :439 (500)
	"Failed: Netdata Cloud is unavailable":            CatCloudError,         // :443 (503)
	"Failed: Gateway Timeout":                         CatCloudError,         // :447 (504)
	"Failed to save claiming info to disk":            CatWriteFailed,        // :382
}

// Prefixes of the other reasons (claim-with-api.c at v2.11.0).
const (
	// reasonCurl: the request did not complete; curl_easy_strerror's text
	// follows, then lines naming the proxy and the key files (:357-367).
	reasonCurl = "Request failed with error: "
	// reasonTooLarge: Cloud's answer exceeded the agent's limit (:346).
	reasonTooLarge = "Request failed: response body exceeded "
	// reasonStatus: any other HTTP status, retried (:450).
	reasonStatus = "Failed with response code "
)

// curlReasons are the curl_easy_strerror texts (libcurl's lib/strerror.c,
// as in Debian 12's libcurl4) of requests that failed for a known cause. Any
// other curl error is taken for an unreachable Cloud: the request did not
// complete.
var curlReasons = map[string]Category{
	"SSL peer certificate or SSH remote key was not OK":   CatCertificate, // CURLE_PEER_FAILED_VERIFICATION
	"Problem with the SSL CA cert (path? access rights?)": CatCertificate, // CURLE_SSL_CACERT_BADFILE
}

// reloadCategory is the category of a v2 agent's reason by the reason's
// structure: its first line, matched whole or by its fixed prefix. Paths,
// URLs and proxies in the rest of the reason never decide it.
func reloadCategory(reason string) Category {
	first, _, _ := strings.Cut(reason, "\n")
	first = strings.TrimSpace(first)
	if c, ok := claimReasons[first]; ok {
		return c
	}
	switch {
	case strings.HasPrefix(first, reasonCurl):
		if c, ok := curlReasons[strings.TrimPrefix(first, reasonCurl)]; ok {
			return c
		}
		return CatCloudUnreachable
	case strings.HasPrefix(first, reasonTooLarge):
		return CatCloudError
	case strings.HasPrefix(first, reasonStatus):
		if n, err := strconv.Atoi(strings.TrimPrefix(first, reasonStatus)); err == nil && n >= 500 {
			return CatCloudError
		}
	}
	return CatClaimFailed
}

// reloadFailure turns the agent's failure reason into a category.
func reloadFailure(reason string) error {
	return fail(reloadCategory(reason), "the agent is not claimed: %s", orDefault(reason, "no reason given"))
}

func scriptError(code string, res remote.Result) error {
	detail := remote.Clip(strings.TrimSpace(string(res.Stderr)), 300)
	at := parseKV(res.Stdout)["fleetclaim-path"]
	switch code {
	case "unsafe-path":
		return fail(CatUnsafePath, "%s is a symbolic link: not followed (the agent's user can write where it is)", at)
	case "config-dir-not-writable":
		return fail(CatNoPrivilege, "claim.conf goes in %s, which this user cannot write (only root can): claiming this agent needs root (set become: sudo or doas)", at)
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
	// Stop and Start, without a reset, are the agent's service commands
	// ("" when unknown): the script starts an agent that is not running and
	// restarts one whose proxy changed.
	Stop, Start string
	// Root is the host's root for the system-wide identity files (the
	// pinned netdata_prefix, or "" for /).
	Root string
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
	stop, start, ids := resetArgs(sp.Reset, in.VarLibDir, sp.Root)
	if sp.Reset != nil {
		flags = append(flags, "reset")
	} else {
		stop, start = sp.Stop, sp.Start
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
// removes with a new identity (identityFiles).
func resetArgs(r *resetPlan, lib, root string) (stop, start string, ids []string) {
	if r == nil {
		return "", "", nil
	}
	if r.NewIdentity {
		ids = identityFiles(lib, root)
	}
	return r.Stop, r.Start, ids
}

// identityFiles are the files a clone's agent keeps its identity in, which
// a new identity removes (root is the host's root, "" for /):
//   - the machine GUID;
//   - every copy of status-netdata.json, from which a v2 agent restores the
//     GUID when the GUID file is gone (netdata v2.11.0
//     src/daemon/machine-guid.c:361-371): the var lib dir first, then the
//     cache dir, /tmp, /run and /var/run (src/daemon/status-file-io.c:6-11,
//     27, 86-95);
//   - netdata-meta.db and its SQLite journals in the cache dir, which
//     keep the template's node (docs/learn/vm-templates.md:124 v2.11.0).
//
// Removing the GUID on v1 too: netdata-claim.sh sends the GUID file's
// value as mGUID whatever -id= says (v1.37.1 claim/netdata-claim.sh.in:
// 171-174, 281); with the file gone, the agent started after the reset
// makes a new one.
func identityFiles(lib, root string) []string {
	cache := cacheDir(lib)
	ids := []string{path.Join(lib, "registry", "netdata.public.unique.id"),
		path.Join(lib, "status-netdata.json"), path.Join(cache, "status-netdata.json")}
	for _, d := range []string{"/tmp", "/run", "/var/run"} {
		ids = append(ids, path.Join("/", root, d, "status-netdata.json"))
	}
	for _, s := range []string{"", "-wal", "-shm", "-journal"} {
		ids = append(ids, path.Join(cache, "netdata-meta.db"+s))
	}
	return ids
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
