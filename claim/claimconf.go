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
	script, err := buildClaimConfScript(claimConfSpec{In: in, Conf: conf, CA: ca, Reset: reset,
		CloudProxy: h.Claim.Proxy.Reveal(), AgentOwned: r.facts.Kernel == "Darwin"})
	if err != nil {
		return err
	}
	res, err := remote.RunScript(ctx, r.priv, script)
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
	switch code {
	case "no-config-dir":
		return fail(CatNotInstalled, "the agent's config directory is gone: %s", detail)
	case "start-agent":
		return fail(CatAgentNotRunning, "the agent did not start again after its claim was removed: %s", detail)
	case "remove-cloud.d", "remove-identity":
		return fail(CatWriteFailed, "could not %s: %s", strings.ReplaceAll(code, "-", " "), detail)
	case "write-ca", "write-cloud.d", "write-claim-conf", "write-netdata-conf":
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
	// well, as the seed instructs for proxied nodes.
	CloudProxy string
	// AgentOwned: claim.conf belongs to the agent's user, mode 0600 (macOS),
	// instead of root:<agent group> 0640.
	AgentOwned bool
}

// buildClaimConfScript builds the shell script run by claimConf. Every value
// is quoted; file contents travel in here-documents with a random delimiter.
//
// With a reset, the agent is stopped, its cloud.d removed (and with a new
// identity its machine GUID too) before the files are written, and started
// again after: the "remove and reconnect" of a node.
func buildClaimConfScript(sp claimConfSpec) (string, error) {
	in, conf, reset := sp.In, sp.Conf, sp.Reset
	delim, ca, err := hereDocs(sp.CA, conf)
	if err != nil {
		return "", err
	}
	q := &remote.Quoter{}
	confDir := q.Q(in.ConfigDir)
	cloudD := q.Q(path.Join(in.VarLibDir, "cloud.d"))
	runAs := q.Q(in.RunAsUser)
	cli := q.Q(in.CLI)
	if q.Err != nil {
		return "", q.Err
	}
	var b strings.Builder
	b.WriteString(scriptPreamble)
	b.WriteString(`fail() { echo "fleetclaim-error=$1"; rm -f "${tmp:-}" "${catmp:-}" 2>/dev/null; exit 0; }` + "\n")
	b.WriteString(rootCheck)
	fmt.Fprintf(&b, "[ -d %s ] || fail no-config-dir\n", confDir)
	if reset != nil {
		fmt.Fprintf(&b, "%s >/dev/null 2>&1; echo \"stop-rc=$?\"\n", reset.Stop)
		fmt.Fprintf(&b, "rm -rf %s || fail remove-cloud.d\n", cloudD)
		if reset.NewIdentity {
			lib := path.Join(in.VarLibDir)
			fmt.Fprintf(&b, "rm -f %s %s %s || fail remove-identity\n",
				q.Q(path.Join(lib, "registry", "netdata.public.unique.id")),
				q.Q(path.Join(lib, "status-netdata.json")),
				q.Q(path.Join(cacheDir(lib), "status-netdata.json")))
		}
		b.WriteString("echo reset=1\n")
	}
	// An agent that runs as root owns what root creates: no chown needed.
	chownToAgent := in.RunAsUser != "root"
	if len(ca) > 0 {
		fmt.Fprintf(&b, "[ -d %s ] || mkdir -p %s || fail write-cloud.d\n", cloudD, cloudD)
		writeCAChain(&b, delim, ca, cloudD)
		if chownToAgent {
			fmt.Fprintf(&b, "if [ $root = yes ]; then chown %s %s %s/cloud_fullchain.pem 2>/dev/null; fi\n", runAs, cloudD, cloudD)
		}
	}
	// The file is created with its final mode by the umask (no chmod
	// process), after anything already at the temporary name is removed.
	fmt.Fprintf(&b, "tmp=%s/.claim.conf.fleetclaim.$$\n", confDir)
	b.WriteString(freshFile("tmp", "write-claim-conf"))
	umask := "027" // root:<agent group> 0640
	if sp.AgentOwned {
		umask = "077" // the agent's user, 0600
	}
	fmt.Fprintf(&b, "umask %s; cat > \"$tmp\" <<'%s' || fail write-claim-conf\n%s%s\numask 077\n", umask, delim, conf, delim)
	switch {
	case chownToAgent && sp.AgentOwned:
		fmt.Fprintf(&b, "if [ $root = yes ]; then chown %s \"$tmp\" || fail write-claim-conf; fi\n", runAs)
	case chownToAgent:
		fmt.Fprintf(&b, "if [ $root = yes ]; then g=$(id -gn %s 2>/dev/null) || g=0; chown \"root:$g\" \"$tmp\" || fail write-claim-conf; fi\n", runAs)
	}
	fmt.Fprintf(&b, "mv -f \"$tmp\" %s/claim.conf || fail write-claim-conf\n", confDir)
	if sp.CloudProxy != "" {
		snippet, err := cloudProxySnippet(in.ConfigDir, sp.CloudProxy)
		if err != nil {
			return "", err
		}
		b.WriteString(snippet)
	}
	b.WriteString("echo written=1\n")
	if reset != nil {
		fmt.Fprintf(&b, "%s >/dev/null 2>&1 || fail start-agent\n", reset.Start)
		// The agent takes a moment to answer after a start.
		fmt.Fprintf(&b, "i=0; while :; do out=$(%s reload-claiming-state 2>&1); rc=$?; [ $rc != 255 ] && break; i=$((i+1)); [ $i -ge 30 ] && break; sleep 1; done\n", cli)
	} else {
		fmt.Fprintf(&b, "out=$(%s reload-claiming-state 2>&1); rc=$?\n", cli)
	}
	b.WriteString("echo \"reload-rc=$rc\"\n")
	b.WriteString(emitLines("reload-out", "out"))
	return b.String(), nil
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

// cloudProxySnippet sets `proxy` in the [cloud] section of netdata.conf, as
// the manual instructs for nodes behind a proxy: every other line and
// comment is kept, an existing proxy line of that section is replaced, the
// section is added when missing, and the file is replaced atomically with
// its owner and mode kept. A missing netdata.conf is created.
func cloudProxySnippet(confDir, proxy string) (string, error) {
	if err := checkINIValue("proxy", proxy); err != nil {
		return "", err
	}
	q := &remote.Quoter{}
	nc := q.Q(path.Join(confDir, "netdata.conf"))
	tmp := path.Join(confDir, ".netdata.conf.fleetclaim.")
	qtmp := q.Q(tmp)
	qp := q.Q(proxy)
	if q.Err != nil {
		return "", q.Err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nctmp=%s$$\n", qtmp)
	// The value reaches awk through the environment: -v would interpret
	// backslashes in it. cp -p keeps the file's owner and mode.
	fmt.Fprintf(&b, "if [ -f %s ]; then cp -p %s \"$nctmp\" && FLEETCLAIM_PROXY=%s awk '%s' %s > \"$nctmp\"; "+
		"else FLEETCLAIM_PROXY=%s awk '%s' /dev/null > \"$nctmp\" && chmod 0644 \"$nctmp\"; fi || { rm -f \"$nctmp\"; fail write-netdata-conf; }\n",
		nc, nc, qp, proxyAwk, nc, qp, proxyAwk)
	fmt.Fprintf(&b, "mv -f \"$nctmp\" %s || { rm -f \"$nctmp\"; fail write-netdata-conf; }\n", nc)
	b.WriteString("echo cloud-proxy=1\n")
	return b.String(), nil
}

// proxyAwk rewrites netdata.conf with [cloud] proxy set to $FLEETCLAIM_PROXY.
const proxyAwk = `BEGIN { p = ENVIRON["FLEETCLAIM_PROXY"] }
/^[ \t]*\[/ { if (cloud && !done) { print "    proxy = " p; done = 1 }
  cloud = ($0 ~ /^[ \t]*\[cloud\][ \t]*$/); print; next }
cloud && /^[ \t]*proxy[ \t]*=/ { if (!done) { print "    proxy = " p; done = 1 }; next }
{ print }
END { if (cloud && !done) { print "    proxy = " p; done = 1 }
  if (!done) { print ""; print "[cloud]"; print "    proxy = " p } }`

// hereDocs picks the here-document delimiter of a script that carries ca and
// contents, refusing contents that hold it, and returns ca ending in a
// newline (a here-document needs one before its delimiter).
func hereDocs(ca []byte, contents ...string) (string, []byte, error) {
	delim := randomDelimiter()
	for _, c := range append(contents, string(ca)) {
		if strings.Contains(c, delim) {
			return "", nil, fail(remote.CatInvalidValue, "a file to write contains the here-document delimiter")
		}
	}
	if len(ca) > 0 && ca[len(ca)-1] != '\n' {
		ca = append(ca[:len(ca):len(ca)], '\n')
	}
	return delim, ca, nil
}

// writeCAChain installs the Cloud CA chain as cloud.d/cloud_fullchain.pem:
// a temporary file, then a rename; the caller gives it to the agent's user.
// cloudD is quoted already.
//
// A chain already in place with the same contents is left alone, which is
// the common case of a scheduled reclaim: a chain of up to caCompareMax
// bytes is read with shell builtins and compared, so an unchanged chain
// costs no process, and a changed one only the rename (the contents are
// written by the printf builtin, not a cat). A larger bundle is always
// written: reading it a byte per system call would cost more than that.
func writeCAChain(b *strings.Builder, delim string, ca []byte, cloudD string) {
	final := cloudD + "/cloud_fullchain.pem"
	// mv would move the chain into a directory (or a link to one) there.
	fmt.Fprintf(b, "[ -d %s ] && fail write-ca\n", final)
	tmp := fmt.Sprintf("catmp=%s/.cloud_fullchain.pem.fleetclaim.$$\n", cloudD) + freshFile("catmp", "write-ca")
	rename := fmt.Sprintf("mv -f \"$catmp\" %s || fail write-ca\necho ca=written\n", final)
	if len(ca) > caCompareMax {
		b.WriteString(tmp)
		fmt.Fprintf(b, "umask 022; cat > \"$catmp\" <<'%s' || fail write-ca\n%s%s\numask 077\n", delim, ca, delim)
		b.WriteString(rename)
		return
	}
	// A CA chain is public: it may be a shell word. It cannot hold a NUL
	// (hereDocs took a PEM file), so quoting cannot fail.
	lit, _ := remote.Quote(string(ca))
	fmt.Fprintf(b, "ca=%s\nhave=\n", lit)
	fmt.Fprintf(b, "if [ -f %s ] && [ ! -h %s ] && [ -r %s ]; then while IFS= read -r l || [ -n \"$l\" ]; do have=\"$have$l\n\"; done < %s; fi\n", final, final, final, final)
	b.WriteString("if [ \"$have\" = \"$ca\" ]; then echo ca=unchanged; else\n")
	b.WriteString(tmp)
	b.WriteString("umask 022; printf '%s' \"$ca\" > \"$catmp\" || fail write-ca; umask 077\n")
	b.WriteString(rename)
	b.WriteString("fi\n")
}

// scriptPreamble starts every claim script: unset variables are errors,
// files are private unless made otherwise, and a file size limit (ulimit -f)
// makes a write fail with EFBIG instead of killing the writer with SIGXFSZ,
// so that a builtin's failed write (printf) reaches the script's clean-up
// as a full disk's ENOSPC does. Commands started from the script inherit
// the ignored signal.
const scriptPreamble = "set -u\numask 077\ntrap '' XFSZ\n"

// caCompareMax is the largest CA chain writeCAChain compares with the one in
// place before writing (a chain of a few certificates is 2 to 6 KB).
const caCompareMax = 16 << 10

// freshFile removes what is at the path in variable v (a file or a link,
// left by an earlier run) so that the next write creates the file, with the
// mode of the umask, rather than follow a link or keep an old mode. The
// test is a builtin: no process when nothing is there.
func freshFile(v, failKey string) string {
	return "if [ -e \"$" + v + "\" ] || [ -h \"$" + v + "\" ]; then rm -f \"$" + v + "\" || fail " + failKey + "; fi\n"
}

// emitLines prints each line of the variable v as "key=LINE", with shell
// builtins only (a pipe into a read loop costs two processes per host). An
// empty value prints one "key=" line.
func emitLines(key, v string) string {
	return "rest=$" + v + "\nwhile :; do case $rest in *'\n'*) l=${rest%%'\n'*}; rest=${rest#*'\n'} ;; *) l=$rest; rest= ;; esac; " +
		"printf '" + key + "=%s\\n' \"$l\"; [ -n \"$rest\" ] || break; done\n"
}

// rootCheck sets $root to yes when the script runs as root: the effective
// uid from /proc through shell builtins where there is a /proc, id(1) only
// elsewhere (one process fewer per host).
const rootCheck = `e=
if [ -r "/proc/$$/status" ]; then
  while IFS=' 	' read -r k _r e _rest; do [ "$k" = "Uid:" ] && break; e=; done < "/proc/$$/status"
fi
[ -n "$e" ] || e=$(id -u)
root=no; [ "$e" = 0 ] && root=yes
`
