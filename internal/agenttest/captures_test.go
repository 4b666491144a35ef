package agenttest

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the real-agent captures in claim/testdata/real")

// captureDir is where the captures of an agent version live.
func captureDir(t *testing.T, version string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "claim", "testdata", "real", version)
}

// recorder writes captures (-update) or checks that the real agent still
// produces the stored ones, volatile parts masked.
type recorder struct {
	t      *testing.T
	dir    string
	agent  string
	stored map[string]Capture
	seen   map[string]bool
	// version and fresh: where this run's outputs go for checkLabRows.
	version string
	fresh   *freshOutputs
}

func newRecorder(t *testing.T, fresh *freshOutputs, version, agent string) *recorder {
	t.Helper()
	r := &recorder{t: t, dir: captureDir(t, version), agent: agent, seen: map[string]bool{}, version: version, fresh: fresh}
	if *update {
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var err error
	if r.stored, err = ReadCaptures(r.dir); err != nil {
		t.Fatal(err)
	}
	if len(r.stored) == 0 {
		t.Fatalf("no captures in %s: run with -update", r.dir)
	}
	return r
}

// add records one output; compare, when set, extracts what must match
// (default: stdout and stderr, normalized).
func (r *recorder) add(name, command, setup string, out Output, compare func(string) string) {
	r.t.Helper()
	r.seen[name] = true
	c := Capture{Name: name, Command: command, Agent: r.agent, Setup: setup, Date: time.Now().UTC().Format("2006-01-02"),
		Exit: out.Code, Stdout: out.Stdout, Stderr: out.Stderr}
	r.fresh.put(r.version, name, c)
	if *update {
		if err := os.WriteFile(filepath.Join(r.dir, name+".txt"), c.Marshal(), 0o644); err != nil {
			r.t.Fatal(err)
		}
		return
	}
	old, ok := r.stored[name]
	if !ok {
		r.t.Errorf("capture %s is not in %s: run with -update", name, r.dir)
		return
	}
	if compare == nil {
		compare = Normalize
	}
	if old.Exit != c.Exit || compare(old.Stdout) != compare(c.Stdout) || compare(old.Stderr) != compare(c.Stderr) {
		r.t.Errorf("capture %s: the real agent's output changed:\nstored (exit %d):\n%s%s\nnow (exit %d):\n%s%s",
			name, old.Exit, compare(old.Stdout), compare(old.Stderr), c.Exit, compare(c.Stdout), compare(c.Stderr))
	}
}

// done checks that no stored capture was left unchecked (optional ones
// that this run did not observe are named in the log).
func (r *recorder) done(optional ...string) {
	r.t.Helper()
	if *update {
		return
	}
	for name := range r.stored {
		if r.seen[name] {
			continue
		}
		if contains(optional, name) {
			r.t.Logf("capture %s: not observed in this run (a short window of the agent's start-up)", name)
			continue
		}
		r.t.Errorf("capture %s was not produced by this run", name)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestRealCaptures runs the real agents through the states whose outputs
// fleetclaim's classifiers read, and writes (-update) or checks the
// captures of claim/testdata/real, so that they stay the real agents'.
func TestRealCaptures(t *testing.T) {
	fresh := newFreshOutputs()
	// After every subtest: the lab's rows must be what the real agents said.
	t.Cleanup(func() { checkLabRows(t, fresh) })
	t.Run("v2", func(t *testing.T) { t.Parallel(); captureV2(t, fresh) })
	t.Run("v2-keyword-path", func(t *testing.T) { t.Parallel(); captureV2KeywordPath(t, fresh) })
	t.Run("v2-online", func(t *testing.T) { t.Parallel(); captureV2Online(t, fresh) })
	t.Run("v1", func(t *testing.T) { t.Parallel(); captureV1(t, fresh) })
}

const v2Agent = "netdata v2.11.0 (the shared netdata-v2 archive, built from the v2.11.0 tag), Debian 12, daemon run as root dropping to netdata, in a host of internal/agenttest"

// writeClaimConf writes the host's claim.conf as fleetclaim does (root,
// group netdata, 0640).
func writeClaimConf(t *testing.T, h *Host, body string) {
	t.Helper()
	p := h.Etc("claim.conf")
	if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := run("chown", "root:netdata", p); err != nil {
		t.Fatal(err)
	}
}

func claimConf(url string, extra ...string) string {
	s := "[global]\n    url = " + url + "\n    token = capture-token\n    rooms = 3b0d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11\n"
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

// installCA puts the stand-in's certificate where the agent trusts it for
// the claim request (cloud.d/cloud_fullchain.pem, claim-with-api.c:229-243
// v2.11.0), owned by the agent's user.
func installCA(t *testing.T, h *Host, cloud *Cloud, lib string) {
	t.Helper()
	b, err := os.ReadFile(cloud.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(lib, "cloud.d")
	os.MkdirAll(d, 0o770)
	p := filepath.Join(d, "cloud_fullchain.pem")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("chown", "netdata:netdata", d, p); err != nil {
		t.Fatal(err)
	}
}

// closedURL is an https URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("https://127.0.0.1:%d", p)
}

func apiGet(t *testing.T, h *Host, path string) Output {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", h.Port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Output{Stdout: string(b), Code: resp.StatusCode}
}

// cloudFields keeps the Cloud fields of /api/v1/info or /api/v2/info: what
// fleetclaim reads, the rest being the machine's.
func cloudFields(s string) string {
	var v map[string]any
	if json.Unmarshal([]byte(s), &v) != nil {
		return Normalize(s)
	}
	keep := map[string]any{}
	for _, k := range []string{"uid", "cloud-enabled", "cloud-available", "agent-claimed", "aclk-available"} {
		if x, ok := v[k]; ok {
			keep[k] = x
		}
	}
	if agents, ok := v["agents"].([]any); ok && len(agents) > 0 {
		a, _ := agents[0].(map[string]any)
		for _, k := range []string{"mg", "nd", "cloud"} {
			keep["agents[0]."+k] = a[k]
		}
		// An offline agent's next attempt, and why its link to the
		// stand-in (which serves none) failed, differ from run to run.
		if c, ok := a["cloud"].(map[string]any); ok {
			delete(c, "next_check")
			delete(c, "next_in")
			if c["status"] == "offline" {
				c["reason"] = "<offline reason>"
			}
		}
	}
	b, _ := json.Marshal(keep)
	return Normalize(string(b))
}

func captureV2(t *testing.T, fresh *freshOutputs) {
	h := NewV2(t, V2Options{Name: "capture-v2", NoStart: true})
	cloud := NewCloud(t)
	r := newRecorder(t, fresh, "v"+V2Version, v2Agent)
	cli := func(args ...string) Output { return h.Run(t, h.CLI, args...) }
	const ping, reload = "netdatacli ping", "netdatacli reload-claiming-state"

	r.add("ping-no-agent", ping, "the agent is not running (no /run/netdata/netdata.pipe)", cli("ping"), nil)
	r.add("reload-no-agent", reload, "the agent is not running", cli("reload-claiming-state"), nil)

	// Start-up: ping and reload alternately until ping says ready.
	h.Start(t)
	deadline := time.Now().Add(defaultReadyWait)
	var sawPing, sawReload bool
	for {
		p := cli("ping")
		if p.Code == 1 && !sawPing {
			sawPing = true
			r.add("ping-initializing", ping, "polled right after the agent's start, while it initializes", p, nil)
		}
		if p.Code == 0 {
			r.add("ping-ready", ping, "the agent is ready", p, nil)
			break
		}
		if rl := cli("reload-claiming-state"); strings.Contains(rl.Stdout, "initializing") && !sawReload {
			sawReload = true
			r.add("reload-initializing", reload, "polled right after the agent's start, while it initializes (no claim.conf)", rl, nil)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent was not ready after %s", defaultReadyWait)
		}
	}

	r.add("reload-unclaimed", reload, "ready, no claim.conf, never claimed", cli("reload-claiming-state"), nil)
	r.add("aclk-state-unclaimed", "netdatacli aclk-state", "ready, never claimed", cli("aclk-state"), nil)
	r.add("aclk-state-json-unclaimed", "netdatacli aclk-state json", "ready, never claimed", cli("aclk-state", "json"), nil)
	r.add("api-v1-info-unclaimed", "GET /api/v1/info (exit: HTTP status)", "ready, never claimed", apiGet(t, h, "/api/v1/info"), cloudFields)
	r.add("api-v2-info-unclaimed", "GET /api/v2/info (exit: HTTP status)", "ready, never claimed", apiGet(t, h, "/api/v2/info"), cloudFields)

	writeClaimConf(t, h, claimConf(closedURL(t)))
	r.add("reload-connect-failed", reload, "claim.conf url = https://127.0.0.1:<a port where nothing listens>", cli("reload-claiming-state"), nil)
	r.add("api-v2-info-connect-failed", "GET /api/v2/info (exit: HTTP status)", "after reload-connect-failed", apiGet(t, h, "/api/v2/info"), cloudFields)

	writeClaimConf(t, h, claimConf(cloud.URL))
	r.add("reload-untrusted-certificate", reload, "claim.conf url = the stand-in Cloud (self-signed certificate), no CA installed, insecure not set", cli("reload-claiming-state"), nil)

	installCA(t, h, cloud, h.Lib())
	for _, a := range []struct {
		name string
		ans  Answer
	}{
		{"403", AnswerForbidden}, {"409", AnswerConflict},
		{"422-ErrInvalidNodeID", AnswerInvalidID}, {"422-ErrInvalidNodeName", AnswerInvalidName},
		{"422-ErrInvalidRoomID", AnswerInvalidRoom}, {"422-ErrInvalidPublicKey", AnswerInvalidKey},
		{"422-unknown-key", AnswerUnknownError}, {"422-empty", AnswerUnknown422},
		{"500", AnswerInternal}, {"503", AnswerUnavailable}, {"504", AnswerGateway},
	} {
		cloud.SetAnswer(a.ans)
		setup := fmt.Sprintf("claim.conf url = the stand-in Cloud (its CA in cloud.d/cloud_fullchain.pem), which answers the claim PUT with HTTP %d", a.ans.Status)
		if a.ans.Key != "" {
			setup += ` and {"errorMsgKey":"` + a.ans.Key + `"}`
		} else {
			setup += " and an empty body"
		}
		r.add("reload-"+a.name, reload, setup, cli("reload-claiming-state"), nil)
	}

	cloud.SetAnswer(Answer204)
	r.add("reload-204-offline", reload, "the stand-in Cloud answers the claim PUT with HTTP 204 (it serves no Agent-Cloud Link: /api/v1/env is 404)", cli("reload-claiming-state"), offlineReason)
	r.add("aclk-state-claimed-offline", "netdatacli aclk-state", "after reload-204-offline", cli("aclk-state"), linkRetry)
	r.add("aclk-state-json-claimed-offline", "netdatacli aclk-state json", "after reload-204-offline", cli("aclk-state", "json"), linkRetry)
	r.add("api-v1-info-claimed-offline", "GET /api/v1/info (exit: HTTP status)", "after reload-204-offline", apiGet(t, h, "/api/v1/info"), cloudFields)
	r.add("api-v2-info-claimed-offline", "GET /api/v2/info (exit: HTTP status)", "after reload-204-offline", apiGet(t, h, "/api/v2/info"), cloudFields)
	var put ClaimRequest
	for _, q := range cloud.Requests() {
		if q.Method == "PUT" && q.Status == 204 {
			put = q
		}
	}
	r.add("claim-request", "the claim request the agent sent, as the stand-in received it (stdout: the body; stderr: method and path; exit: the answer)",
		"the PUT answered with 204", Output{Stdout: put.Raw, Stderr: put.Method + " " + put.Path + "\n", Code: put.Status}, nil)
	r.add("files-cloud.d", "ls -ln --time-style=+ /opt/netdata/var/lib/netdata/cloud.d /opt/netdata/etc/netdata/claim.conf", "after reload-204-offline (uid 999 = netdata, gid 995 = netdata on the capturing machine)",
		h.Run(t, "ls", "-ln", "--time-style=+", h.VarLibDir+"/cloud.d", h.ConfigDir+"/claim.conf"), lsFields)
	r.add("cloud.conf", "cat /opt/netdata/var/lib/netdata/cloud.d/cloud.conf", "after reload-204-offline", h.Run(t, "cat", h.VarLibDir+"/cloud.d/cloud.conf"), nil)
	r.add("reload-claimed-again", reload, "reload-claiming-state again once claimed (claimed_id exists; claim.conf unchanged)", cli("reload-claiming-state"), offlineReason)
	r.done("ping-initializing", "reload-initializing")
}

// offlineReason masks why an offline agent's link failed: the stand-in
// serves no link, and the agent's account of the failure differs from run
// to run ("cannot start SSL connection", "https client failed to write
// http header").
var offlineReasonRE = regexp.MustCompile(`(currently offline: ).*`)

func offlineReason(s string) string {
	return Normalize(offlineReasonRE.ReplaceAllString(s, "${1}<offline reason>"))
}

// linkRetry masks an offline agent's next attempt at its link, present or
// not depending on when it is asked: the text's "Next Connection Attempt
// At" and "Last Backoff" lines, the JSON's next-connection-attempt-utc and
// last-backoff-value.
var linkRetryRE = regexp.MustCompile(`(?m)^(Next Connection Attempt At|Last Backoff):.*\n|("(next-connection-attempt-utc|last-backoff-value)":)("[^"]*"|[0-9.]+|null)`)

func linkRetry(s string) string {
	return Normalize(linkRetryRE.ReplaceAllStringFunc(s, func(m string) string {
		if k, _, ok := strings.Cut(m, ":"); ok && strings.HasPrefix(k, `"`) {
			return k + ":<retry>"
		}
		return ""
	}))
}

// lsFields keeps the names, modes and owners of an `ls -ln` listing.
func lsFields(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && len(f[0]) == 10 {
			fmt.Fprintf(&b, "%s %s %s %s\n", f[0], f[2], f[3], f[len(f)-1])
		}
	}
	return b.String()
}

// keywordLib is a var lib dir whose path holds every word a keyword
// classifier might match.
const keywordLib = V2Prefix + "/var/lib/netdata/ssl-tls-x509-certificate-token-room-proxy-timeout-refused-resolve-403-409-500-503"

// captureV2KeywordPath: the agent's reasons carry its own paths; here they
// hold the words a keyword match would take for a cause.
func captureV2KeywordPath(t *testing.T, fresh *freshOutputs) {
	h := NewV2(t, V2Options{Name: "capture-v2-path", Conf: "\n[directories]\n    lib = " + keywordLib + "\n", NoStart: true})
	dir := filepath.Join(h.Lib(), strings.TrimPrefix(keywordLib, V2Prefix+"/var/lib/netdata/"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run("chown", "netdata:netdata", dir); err != nil {
		t.Fatal(err)
	}
	h.Start(t)
	h.WaitReady(t)
	cloud := NewCloud(t)
	r := newRecorder(t, fresh, "v"+V2Version+"/keyword-path", v2Agent+"; [directories] lib = "+keywordLib)
	writeClaimConf(t, h, claimConf(closedURL(t)))
	r.add("reload-connect-failed", "netdatacli reload-claiming-state", "claim.conf url = https://127.0.0.1:<a port where nothing listens>", h.Run(t, h.CLI, "reload-claiming-state"), nil)
	writeClaimConf(t, h, claimConf(cloud.URL))
	installCA(t, h, cloud, dir)
	cloud.SetAnswer(AnswerInvalidName)
	r.add("reload-422-ErrInvalidNodeName", "netdatacli reload-claiming-state", `the stand-in Cloud answers HTTP 422 {"errorMsgKey":"ErrInvalidNodeName"} (CA in cloud.d/cloud_fullchain.pem)`, h.Run(t, h.CLI, "reload-claiming-state"), nil)
	os.Remove(filepath.Join(dir, "cloud.d", "cloud_fullchain.pem"))
	writeClaimConf(t, h, claimConf(cloud.URL, "proxy = http://127.0.0.1:1"))
	r.add("reload-proxy-failed", "netdatacli reload-claiming-state", "claim.conf proxy = http://127.0.0.1:1 (nothing listens)", h.Run(t, h.CLI, "reload-claiming-state"), nil)
	r.done()
}

// v1Agent describes the v1 agent of the captures.
func v1Agent(stripped bool) string {
	s := "Debian's netdata-core " + V1PackageVersion() + " (built without Cloud), its /usr/sbin/netdata-claim.sh"
	if stripped {
		s += " with its two build-time \"no Cloud\" guards cut out (agenttest.StrippedClaimScript)"
	} else {
		s += " as installed"
	}
	return s + ", agent not running, in a host of internal/agenttest"
}

func captureV1(t *testing.T, fresh *freshOutputs) {
	plain := NewV1(t, V1Options{Name: "capture-v1-pkg"})
	h := NewV1(t, V1Options{Name: "capture-v1", StripGuards: true})
	cloud := NewCloud(t)
	r := newRecorder(t, fresh, "v"+V1PackageVersion(), v1Agent(true))
	const room = "3b0d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11"
	script := "/usr/sbin/netdata-claim.sh"
	cloudD := h.Lib("cloud.d")
	token := func() {
		os.MkdirAll(cloudD, 0o770)
		if err := os.WriteFile(filepath.Join(cloudD, "token"), []byte("capture-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		run("chown", "-R", "netdata:netdata", cloudD)
	}
	claim := func(env []string, prefix []string, args ...string) Output {
		ctx, cancel := contextWithTimeout(2 * time.Minute)
		defer cancel()
		argv := append(append(append([]string{}, prefix...), script), args...)
		return h.RunContext(ctx, t, env, argv[0], argv[1:]...)
	}
	cmd := func(args ...string) string {
		return strings.Join(append([]string{script}, args...), " ")
	}
	std := []string{"-rooms=" + room, "-url=" + cloud.URL}

	// The package's own script, guards in place.
	pr := recorder{t: t, dir: r.dir, agent: v1Agent(false), stored: r.stored, seen: r.seen, version: r.version, fresh: fresh}
	pr.add("exit3-built-without-cloud", cmd(std...), "the installed script, unmodified (cloud.d/token written as fleetclaim does)",
		plain.Run(t, script, std...), nil)

	installCA(t, h, cloud, h.Lib())
	token()
	r.add("exit0-noreload", cmd(append(std, "-noreload")...), "first run (no keys yet); token in cloud.d/token; the stand-in answers the PUT with HTTP 204", claim(nil, nil, append(std, "-noreload")...), nil)
	token()
	r.add("exit5-agent-not-told", cmd(std...), "token in cloud.d/token; HTTP 204; the agent does not run, so netdatacli cannot tell it", claim(nil, nil, std...), nil)
	r.add("exit1-unknown-argument", cmd(append(std, "-bogus")...), "an option the script does not know", claim(nil, nil, append(std, "-bogus")...), nil)

	os.Rename(cloudD, cloudD+".aside")
	os.WriteFile(cloudD, nil, 0o644)
	r.add("exit2-claiming-dir", cmd(std...), "cloud.d is a regular file, so mkdir -p fails", claim(nil, nil, std...), nil)
	os.Remove(cloudD)
	os.Rename(cloudD+".aside", cloudD)

	r.add("exit3-no-curl", "PATH=/nonexistent /bin/bash "+cmd(std...), "neither curl nor wget in PATH",
		claim([]string{"PATH=/nonexistent"}, []string{"/bin/bash"}, std...), nil)
	r.add("exit6-wrong-user", "setpriv --reuid=nobody --regid=nogroup --init-groups "+cmd(std...), "run as a user that is neither root nor netdata",
		claim(nil, []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups"}, std...), nil)
	ca := filepath.Join(cloudD, "cloud_fullchain.pem")
	os.Rename(ca, ca+".aside")
	token()
	r.add("exit7-untrusted-certificate", cmd(std...), "the stand-in's self-signed certificate, no CA in cloud.d (three attempts, 1+2+3 s apart)", claim(nil, nil, std...), nil)
	os.Rename(ca+".aside", ca)
	token()
	closed := closedURL(t)
	r.add("exit7-connect-failed", cmd("-rooms="+room, "-url="+closed), "-url= a port on 127.0.0.1 where nothing listens (three attempts, 1+2+3 s apart)",
		claim(nil, nil, "-rooms="+room, "-url="+closed), nil)
	for _, a := range []struct {
		name string
		ans  Answer
	}{
		{"exit7-422-no-key", AnswerUnknown422}, {"exit7-422-unknown-key", AnswerUnknownError},
		{"exit8-ErrInvalidNodeID", AnswerInvalidID}, {"exit9-ErrInvalidNodeName", AnswerInvalidName},
		{"exit10-ErrInvalidRoomID", AnswerInvalidRoom}, {"exit11-ErrInvalidPublicKey", AnswerInvalidKey},
		{"exit12-ErrForbidden", AnswerForbidden}, {"exit13-ErrAlreadyClaimed", AnswerConflict},
		{"exit14-ErrProcessingClaim", AnswerProcessing}, {"exit15-ErrInternalServerError", AnswerInternal},
		{"exit16-ErrGatewayTimeout", AnswerGateway}, {"exit17-ErrServiceUnavailable", AnswerUnavailable},
	} {
		cloud.SetAnswer(a.ans)
		token()
		setup := fmt.Sprintf("token in cloud.d/token; the stand-in answers the PUT with HTTP %d", a.ans.Status)
		if a.ans.Key != "" {
			setup += ` and {"errorMsgKey":"` + a.ans.Key + `"}`
		} else {
			setup += " and an empty body"
		}
		r.add(a.name, cmd(std...), setup, claim(nil, nil, std...), nil)
	}
	guid := h.Lib("registry", "netdata.public.unique.id")
	os.Chmod(guid, 0o600)
	run("chown", "root:root", guid)
	r.add("exit18-guid-unreadable", "setpriv --reuid=netdata --regid=netdata --init-groups "+cmd(std...), "run as netdata; registry/netdata.public.unique.id is root's, mode 0600",
		claim(nil, []string{"setpriv", "--reuid=netdata", "--regid=netdata", "--init-groups"}, std...), nil)
	r.done()
}

// captureV2Online: a claim accepted by a stand-in that serves the link
// (insecure = yes: the link checks the system store), the agent online.
func captureV2Online(t *testing.T, fresh *freshOutputs) {
	h := NewV2(t, V2Options{Name: "capture-v2-online"})
	cloud := NewCloud(t)
	cloud.ServeLink()
	r := newRecorder(t, fresh, "v"+V2Version+"/online", v2Agent)
	const reload = "netdatacli reload-claiming-state"
	writeClaimConf(t, h, claimConf(cloud.URL, "insecure = yes"))
	setup := "claim.conf insecure = yes; the stand-in Cloud answers the claim PUT with 204 and serves the Agent-Cloud Link (agenttest/aclk.go)"
	r.add("reload-online", reload, setup, h.Run(t, h.CLI, "reload-claiming-state"), nil)
	r.add("aclk-state-online", "netdatacli aclk-state", "after reload-online", h.Run(t, h.CLI, "aclk-state"), onlineStats)
	r.add("aclk-state-json-online", "netdatacli aclk-state json", "after reload-online", h.Run(t, h.CLI, "aclk-state", "json"), onlineStats)
	r.add("api-v1-info-online", "GET /api/v1/info (exit: HTTP status)", "after reload-online", apiGet(t, h, "/api/v1/info"), cloudFields)
	r.add("api-v2-info-online", "GET /api/v2/info (exit: HTTP status)", "after reload-online", apiGet(t, h, "/api/v2/info"), cloudFields)
	r.add("reload-online-again", reload, "reload-claiming-state again while online", h.Run(t, h.CLI, "reload-claiming-state"), nil)
	r.done()
}

// onlineStats masks the link's counters and times, which differ from run
// to run while the agent is online.
var onlineStatsRE = regexp.MustCompile(`(?m)("[a-z_-]*(msgs|pubacks|latency[a-z_]*|time[a-z_-]*|maximum|count|value)"\s*:\s*)("[^"]*"|[0-9.]+|null)|^((Received|MQTT|Pending|Publish|Server|Last|Next|Reconnect|Online Since|Connected)[^:]*: ).*$`)

func onlineStats(s string) string {
	return Normalize(onlineStatsRE.ReplaceAllString(s, "${1}${4}<n>"))
}
