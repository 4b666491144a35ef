package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The real v1 netdata-claim.sh as installed on this machine (netdata-core
// 1.37.1). The harness below runs it, not a stand-in: a copy of the file
// with only its build guards lifted (this build has no Cloud, so it exits 3
// before parsing anything) and its absolute daemon paths pointed at stubs.
// Its argument parsing, its curl/wget command line and its eval are the
// script's own lines, unchanged.
const installedV1Script = "/usr/sbin/netdata-claim.sh"

// v1ClaimID is the -id= fleetclaim passes: the claim id is part of the url
// the script evals.
const v1ClaimID = "0b9d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11"

// v1Harness runs the installed netdata-claim.sh with curl or wget replaced
// by a recorder on PATH. A recorder writes the arguments (and http_proxy)
// it was started with, one per line in %q form, and counts its runs; bash's
// command_not_found_handle, exported into the script, leaves a sentinel
// file whenever the script tries to run a command that does not exist.
type v1Harness struct {
	dir    string
	script string
	// path is PATH per URL tool: only that recorder, and the plain tools
	// the script needs.
	path map[string]string
	env  []string
	bash string
	user string // -user=: the script refuses to run as anyone else
}

// newV1Harness prepares the installed script, or skips when there is none:
// no extraction or rewrite of its logic ever stands in for it.
func newV1Harness(tb testing.TB) *v1Harness {
	tb.Helper()
	src, err := os.ReadFile(installedV1Script)
	if err != nil {
		tb.Skipf("the real v1 netdata-claim.sh is not installed (%v): install netdata-core 1.37.1, as CI does; no stand-in is used", err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		tb.Skip("no bash: netdata-claim.sh is a bash script")
	}
	dir := tb.TempDir()
	h := &v1Harness{dir: dir, script: filepath.Join(dir, "netdata-claim.sh"), path: map[string]string{}, bash: bash, user: "root"}
	stubs := filepath.Join(dir, "stubs")
	tools := filepath.Join(dir, "tools")
	varlib := filepath.Join(dir, "varlib")
	for _, d := range []string{stubs, tools, filepath.Join(varlib, "cloud.d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	text := string(src)
	// The build guards: `if [ "no" = "no" ]; then … exit 3 … fi` (built
	// without Cloud) and `if [ "" != "yes" ]; then … fi` (no Cloud
	// dependencies), v1.37.1 claim/netdata-claim.sh.in:45-54 as configured.
	guard := regexp.MustCompile(`(?m)^if \[ "[^"\n]*" !?= "(no|yes)" \]; then\n(?:[^\n]*\n)*?fi\n`)
	n := 0
	text = guard.ReplaceAllStringFunc(text, func(m string) string {
		if !strings.Contains(m, "exit 3") || !strings.Contains(m, "cannot be claimed") {
			return m
		}
		n++
		return ""
	})
	if n != 2 {
		tb.Fatalf("%s: found %d build guards, want 2: the installed script is not the one this harness knows", installedV1Script, n)
	}
	for _, r := range []struct{ old, new string }{
		// The daemon, asked for its configuration: stubs that know nothing.
		{"/usr/sbin/netdatacli", filepath.Join(stubs, "netdatacli")},
		{"/usr/sbin/netdata ", filepath.Join(stubs, "netdata") + " "},
		// The machine GUID file, which the script creates when missing.
		{`MACHINE_GUID_FILE="/var/lib/netdata/registry/netdata.public.unique.id"`, `MACHINE_GUID_FILE="` + filepath.Join(dir, "guid") + `"`},
	} {
		if !strings.Contains(text, r.old) {
			tb.Fatalf("%s has no %q: the installed script is not the one this harness knows", installedV1Script, r.old)
		}
		text = strings.ReplaceAll(text, r.old, r.new)
	}
	if strings.Contains(text, "/var/lib/netdata") && !strings.Contains(text, `[ -z "${NETDATA_VARLIB_DIR}" ] && NETDATA_VARLIB_DIR="/var/lib/netdata"`) {
		tb.Fatalf("%s writes to /var/lib/netdata in a way this harness does not redirect", installedV1Script)
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			tb.Fatal(err)
		}
	}
	write(h.script, text, 0o755)
	write(filepath.Join(dir, "guid"), v1ClaimID, 0o644)
	// A key pair in place: the script then never runs openssl.
	write(filepath.Join(varlib, "cloud.d", "private.pem"), "not a key\n", 0o600)
	write(filepath.Join(varlib, "cloud.d", "public.pem"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 0o644)
	write(filepath.Join(stubs, "netdatacli"), "#!/bin/sh\nexit 1\n", 0o755)
	write(filepath.Join(stubs, "netdata"), "#!/bin/sh\nexit 0\n", 0o755)
	write(filepath.Join(stubs, "openssl"), "#!/bin/sh\nexit 1\n", 0o755)
	// The pause between the script's retries: no time is spent in it.
	write(filepath.Join(tools, "sleep"), "#!/bin/sh\nexit 0\n", 0o755)
	// Every plain tool the script runs, linked from the machine.
	for _, t := range []string{"cat", "tr", "sed", "grep", "awk", "tail", "rm", "mkdir", "chmod", "chown", "whoami", "id", "hostname", "echo", "sh"} {
		p, err := exec.LookPath(t)
		if err != nil {
			tb.Skipf("no %s on this machine", t)
		}
		if err := os.Symlink(p, filepath.Join(tools, t)); err != nil {
			tb.Fatal(err)
		}
	}
	// The recorder also keeps the request body (curl -d @FILE, wget
	// --body-file=FILE): the script removes the file afterwards.
	recorder := `#!/bin/sh
echo x >> "$FLEETCLAIM_RUNS"
{ printf 'http_proxy=%s\n' "${http_proxy-<unset>}"; for a in "$@"; do printf '%s\n' "$a"; done; } > "$FLEETCLAIM_REC"
for a in "$@"; do case $a in @*) cat "${a#@}" > "$FLEETCLAIM_REC.body";; --body-file=*) cat "${a#--body-file=}" > "$FLEETCLAIM_REC.body";; esac; done
`
	for _, tool := range []string{"curl", "wget"} {
		d := filepath.Join(dir, "rec-"+tool)
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		write(filepath.Join(d, tool), recorder, 0o755)
		if err := os.Symlink(filepath.Join(stubs, "openssl"), filepath.Join(d, "openssl")); err != nil {
			tb.Fatal(err)
		}
		h.path[tool] = d + ":" + tools
	}
	if u, err := user.Current(); err == nil {
		h.user = u.Username
	}
	h.env = []string{
		"NETDATA_VARLIB_DIR=" + varlib,
		"HOSTNAME=fleetclaim-test",
		"HOME=" + dir,
		"LC_ALL=C",
		// Any command that does not exist leaves the sentinel.
		"BASH_FUNC_command_not_found_handle%%=() { echo \"$1\" >> " + filepath.Join(dir, "SENTINEL") + "; return 127; }",
	}
	return h
}

// v1Run is what one run of the script did.
type v1Run struct {
	args      []string // the recorder's arguments
	httpProxy string   // its http_proxy
	runs      int      // how many times a recorder ran
	sentinel  string   // the commands not found, if any
	body      string   // the request body the script built
	output    string
}

// run runs the script with -url= and -proxy= (each when not empty) the way
// fleetclaim passes them: each one argument, no shell in between.
func (h *v1Harness) run(tb testing.TB, tool, url, proxy string, extra ...string) v1Run {
	tb.Helper()
	rec := filepath.Join(h.dir, "rec")
	runs := filepath.Join(h.dir, "runs")
	sentinel := filepath.Join(h.dir, "SENTINEL")
	for _, f := range []string{rec, rec + ".body", runs, sentinel} {
		os.Remove(f)
	}
	args := []string{h.script, "-id=" + v1ClaimID, "-rooms=" + v1ClaimID, "-noreload", "-user=" + h.user}
	if url != "" {
		args = append(args, "-url="+url)
	}
	if proxy != "" {
		args = append(args, "-proxy="+proxy)
	}
	args = append(args, extra...)
	cmd := exec.Command(h.bash, args...)
	cmd.Dir = h.dir
	cmd.Env = append([]string{"PATH=" + h.path[tool], "FLEETCLAIM_REC=" + rec, "FLEETCLAIM_RUNS=" + runs}, h.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // the recorder answers nothing: the script exits 7
	var r v1Run
	r.output = out.String()
	if b, err := os.ReadFile(runs); err == nil {
		r.runs = strings.Count(string(b), "x")
	}
	if b, err := os.ReadFile(sentinel); err == nil {
		r.sentinel = string(b)
	}
	if b, err := os.ReadFile(rec + ".body"); err == nil {
		r.body = string(b)
	}
	if b, err := os.ReadFile(rec); err == nil {
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		r.httpProxy = strings.TrimPrefix(lines[0], "http_proxy=")
		r.args = lines[1:]
	}
	return r
}

// check runs url and proxy through the script with both URL tools and
// reports what the shell did to them: nothing, or an error.
func (h *v1Harness) check(tb testing.TB, url, proxy string) error {
	tb.Helper()
	base := url
	if base == "" {
		base = "https://api.netdata.cloud" // the script's own default
	}
	target := strings.TrimSuffix(base, "/") + "/api/v1/spaces/nodes/" + v1ClaimID
	for _, tool := range []string{"curl", "wget"} {
		if tool == "wget" && strings.HasPrefix(proxy, "socks") {
			continue // the script refuses SOCKS without curl, before any eval
		}
		r := h.run(tb, tool, url, proxy)
		switch {
		case r.sentinel != "":
			return fmt.Errorf("%s: the script ran commands that do not exist: %q\n%s", tool, r.sentinel, r.output)
		case r.runs != 1:
			return fmt.Errorf("%s: the recorder ran %d times, want once\n%s", tool, r.runs, r.output)
		case len(r.args) == 0 || r.args[len(r.args)-1] != target:
			return fmt.Errorf("%s: the url reached %s as %q, want %q\n%s", tool, tool, last(r.args), target, r.output)
		}
		if proxy == "" {
			continue
		}
		if tool == "curl" {
			i := indexOf(r.args, "-x")
			if i < 0 || i+1 >= len(r.args) || r.args[i+1] != proxy {
				return fmt.Errorf("curl: the proxy reached curl as %q, want %q (args %q)", at(r.args, i+1), proxy, r.args)
			}
		} else if strings.HasPrefix(proxy, "http") && r.httpProxy != proxy {
			return fmt.Errorf("wget: http_proxy is %q, want %q", r.httpProxy, proxy)
		}
	}
	return nil
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func at(s []string, i int) string {
	if i < 0 || i >= len(s) {
		return ""
	}
	return s[i]
}

// acceptedBy loads value for key through --set (raw bytes, any format's
// final check) and returns what the host would get, or the refusal.
func acceptedBy(tb testing.TB, inv, key, value string) (string, error) {
	tb.Helper()
	i, err := Load(inv, LoadOptions{SSHConfig: "none", Overrides: []string{key + "=" + value}, Home: filepath.Dir(inv)})
	if err != nil {
		return "", err
	}
	c := i.Hosts[0].Claim
	if key == "proxy" {
		return c.Proxy.Reveal(), nil
	}
	return c.URL, nil
}

func minimalInventory(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "inv.yml")
	if err := os.WriteFile(p, []byte("hosts:\n  h1: {}\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// hostileURLProxy are url and proxy values built to make the v1 script's
// eval run something, and values every fleet uses.
var hostileURLProxy = []string{
	"https://127.0.0.1:1/$(id>PWNED)", "https://127.0.0.1:1/`id`", `https://127.0.0.1:1/a"b`,
	`https://h.example/a\`, "https://h.example/a;id", "https://h.example/a b", "https://h.example/$HOME",
	"https://h.example/a'b", "https://h.example/\"; id; \"", "https://h.example/~root", "https://h.example/a&&id",
	"https://h.example/a|id", "https://h.example/a>x", "https://h.example/*", "https://h.example/a\tb",
	"https://h.example/${IFS}x", "https://h.example/a%24(id)", "https://h.example/!x", "https://[::1]:1/$(id)",
	"http://127.0.0.1:1/$(id)", "http://$(id):3128", "http://u:`id`@p.example:3128", `http://u:p"@p.example:3128`,
	"http://p.example:3128;id", "http://u:a~root@p.example:3128", "http://p.example:3128|id", "http://p.example:3128 x",
	"http://p.example:3128&id", "http://u:p$HOME@p.example:3128", "socks5://p.example:1080$(id)", "socks5h://u:p;id@p.example:1080",
	"https://app.netdata.cloud", "https://cloud.example:8443/base/path", "http://[::1]:8080", "http://10.0.0.1:3128",
	"http://svc_user:p%40ss%24w0rd@proxy.example:3128", "socks5h://10.0.0.1:1080", "socks5://[2001:db8::1]:1080", "none", "env",
}

// TestV1ScriptHostileValues runs every url and proxy value of a hostile
// corpus through the inventory, and each one accepted through the real
// netdata-claim.sh (curl and wget): the script must hand it on verbatim,
// as one argument, and run nothing else. A value the inventory refuses
// never reaches the script.
func TestV1ScriptHostileValues(t *testing.T) {
	h := newV1Harness(t)
	inv := minimalInventory(t)
	// The harness itself sees an injection when one happens: the same
	// script, given the reproduced value directly, runs a command.
	if err := h.check(t, "https://127.0.0.1:1/$(fleetclaim-injected)", ""); err == nil || !strings.Contains(err.Error(), "fleetclaim-injected") {
		t.Fatalf("the harness does not see a command substitution run: %v", err)
	}
	accepted := 0
	for _, v := range hostileURLProxy {
		for _, key := range []string{"url", "proxy"} {
			got, err := acceptedBy(t, inv, key, v)
			if err != nil {
				continue
			}
			accepted++
			url, proxy := got, ""
			if key == "proxy" {
				url, proxy = "", got
				if got == ProxyNone || got == ProxyEnv {
					continue // never a -proxy= value: -noproxy, or nothing
				}
			}
			if err := h.check(t, url, proxy); err != nil {
				t.Errorf("%s %q accepted, and the real netdata-claim.sh interprets it: %v", key, v, err)
			}
		}
	}
	if accepted < 10 {
		t.Errorf("only %d values accepted: the fleets' own urls and proxies must load", accepted)
	}
}

// FuzzV1ScriptURLProxy: any url or proxy the inventory accepts, passed to
// the real netdata-claim.sh (curl and wget), reaches the URL tool verbatim
// and runs no other command.
func FuzzV1ScriptURLProxy(f *testing.F) {
	h := newV1Harness(f)
	inv := minimalInventory(f)
	for _, v := range hostileURLProxy {
		f.Add(v, "")
		f.Add("", v)
	}
	f.Add("https://cloud.example/base", "http://u:p@proxy.example:3128")
	f.Fuzz(func(t *testing.T, url, proxy string) {
		if url != "" {
			got, err := acceptedBy(t, inv, "url", url)
			if err != nil {
				url = ""
			} else {
				url = got
			}
		}
		if proxy != "" {
			got, err := acceptedBy(t, inv, "proxy", proxy)
			if err != nil || got == ProxyNone || got == ProxyEnv {
				proxy = ""
			} else {
				proxy = got
			}
		}
		if url == "" && proxy == "" {
			return
		}
		if err := h.check(t, url, proxy); err != nil {
			t.Fatalf("url %q, proxy %q accepted, and the real netdata-claim.sh interprets them: %v", url, proxy, err)
		}
	})
}

// TestV1ScriptHostnameJSON: the v1 script writes -hostname= into its JSON
// request unescaped (v1.37.1 claim/netdata-claim.sh.in:272-283). Every
// hostname of a hostile corpus that the inventory accepts yields, from the
// real script, a request that parses with exactly that hostname, no other
// key changed, and no command run.
func TestV1ScriptHostnameJSON(t *testing.T) {
	h := newV1Harness(t)
	accepted := 0
	for _, v := range []string{`web"01`, `web\01`, "web$(id)", "web`id`", `x", "token": "stolen`, "web 01", "web\t01", "-web",
		"web-01.prod_eu", "db.example.com", "node_7"} {
		inv, err := loadString(t, "inv.yml", "hosts:\n  h1:\n    hostname: "+strconv.Quote(v)+"\n", LoadOptions{SSHConfig: "none"})
		if err != nil {
			continue
		}
		accepted++
		got := inv.Hosts[0].Claim.Hostname
		r := h.run(t, "curl", "https://cloud.example", "", "-hostname="+got)
		var req struct {
			Node struct {
				ID       string `json:"id"`
				Hostname string `json:"hostname"`
			} `json:"node"`
			Token string   `json:"token"`
			Rooms []string `json:"rooms"`
		}
		if err := json.Unmarshal([]byte(r.body), &req); err != nil || req.Node.Hostname != got || req.Node.ID != v1ClaimID ||
			len(req.Rooms) != 1 || req.Rooms[0] != v1ClaimID || r.sentinel != "" || r.runs != 1 {
			t.Errorf("hostname %q accepted, and the real script's request is %v %+v (sentinel %q):\n%s", v, err, req, r.sentinel, r.body)
		}
	}
	if accepted != 3 {
		t.Errorf("%d hostnames accepted, want the 3 plain ones", accepted)
	}
}
