package claim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// testShells are the shells every claim script is tested in, as argv
// prefixes: dash (Debian's /bin/sh), bash, busybox (Alpine's) and mksh
// (Android's /bin/sh). It logs which run and which are missing; under CI (CI=true),
// whose .ci/run installs them all, a missing one fails the test instead of
// being skipped.
func testShells(t *testing.T) map[string][]string {
	t.Helper()
	all := map[string][]string{"dash": {"dash"}, "bash": {"bash"}, "busybox": {"busybox", "sh"}, "mksh": {"mksh"}}
	var missing []string
	for _, name := range []string{"dash", "bash", "busybox", "mksh"} {
		if _, err := exec.LookPath(all[name][0]); err != nil {
			delete(all, name)
			missing = append(missing, name)
			if os.Getenv("CI") == "true" {
				t.Errorf("shell %s is not installed, and CI (.ci/run) installs it", name)
			}
		}
	}
	t.Logf("shells: %d of dash, bash, busybox, mksh run; missing (skipped): %v", len(all), missing)
	if len(all) == 0 {
		t.Skip("none of dash, bash, busybox, mksh")
	}
	return all
}

// shellC is argv running script with -c, then $0 and args.
func shellC(argv []string, script string, args ...string) *exec.Cmd {
	return exec.Command(argv[0], append(append(argv[1:], "-c", script, "sh"), args...)...)
}

// runIn runs script (given on stdin, as fleetclaim sends it) with args in
// the shell argv, with extra environment, and returns what it printed.
func runIn(t *testing.T, argv []string, script string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(argv[0], append(append(argv[1:], "-s", "--"), args...)...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return out
}

// libSnippet is lib.sh, the inputs, then snippet: a part of a script.
func libSnippet(t *testing.T, snippet string, in ...scriptInput) string {
	t.Helper()
	s, err := hostScript(snippet, in...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScriptsLint: every script fleetclaim runs on a host parses (sh -n in
// each shell) and passes shellcheck, on its own and as sent (the inputs,
// lib.sh and the script).
func TestScriptsLint(t *testing.T) {
	files, _ := filepath.Glob("*.sh")
	if len(files) < 4 {
		t.Fatalf("scripts: %v", files)
	}
	shells := testShells(t)
	for _, f := range files {
		for name, argv := range shells {
			if out, err := exec.Command(argv[0], append(argv[1:], "-n", f)...).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", name, f, err, out)
			}
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("no shellcheck")
	}
	for _, f := range files {
		// The host scripts use what lib.sh defines: SC2154 is checked on
		// what is sent, below.
		if out, err := exec.Command("shellcheck", "-s", "sh", "-e", "SC2154", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"docker-ca": dockerCAScript, "docker-claimconf": dockerClaimConfScript, "tokencleanup": tokenCleanupScript} {
		p := filepath.Join(dir, name+".sh")
		write(t, p, libCode+body, 0o644)
		args := []string{"-s", "sh", p}
		if name == "tokencleanup" {
			// It calls none of lib.sh's functions that call the others
			// (fail, cleanup): shellcheck takes those for unreachable.
			args = append([]string{"-e", "SC2317"}, args...)
		}
		if out, err := exec.Command("shellcheck", args...).CombinedOutput(); err != nil {
			t.Errorf("shellcheck of %s as sent: %v\n%s", name, err, out)
		}
	}
	for name, body := range map[string]string{"claimconf": claimConfCode, "claimscript": claimScriptCode} {
		in := append(caInputs([]byte("x")), scriptInput{"FC_TOKEN", "t"}, scriptInput{"FC_PROXY", ""})
		if name == "claimconf" {
			in = append(caInputs([]byte("x")), scriptInput{"FC_CONF", "c"})
		}
		s := libSnippet(t, body, in...)
		p := filepath.Join(dir, name+".sh")
		write(t, p, s, 0o644)
		if out, err := exec.Command("shellcheck", "-s", "sh", p).CombinedOutput(); err != nil {
			t.Errorf("shellcheck of %s as sent: %v\n%s", name, err, out)
		}
	}
}

// scriptLayout is an agent's directories under a temporary root, for the
// scripts run on their own: config dir, var lib dir (with a machine GUID)
// and a bin dir.
type scriptLayout struct{ root, conf, lib, bin string }

func newLayout(t *testing.T) scriptLayout {
	t.Helper()
	root := t.TempDir()
	l := scriptLayout{root, filepath.Join(root, "etc"), filepath.Join(root, "lib"), filepath.Join(root, "bin")}
	for _, d := range []string{l.conf, filepath.Join(l.lib, "registry"), l.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(l.lib, "registry/netdata.public.unique.id"), "0f6a3c55-7c1e-4f0e-9d55-0c4f5d2d9e11\n", 0o644)
	return l
}

func (l scriptLayout) install(runAs string) *remote.Install {
	return &remote.Install{ConfigDir: l.conf, VarLibDir: l.lib, RunAsUser: runAs,
		CLI: filepath.Join(l.bin, "netdatacli"), ClaimScript: filepath.Join(l.bin, "netdata-claim.sh")}
}

// leftovers fails when a temporary file or directory of the script is
// left in the config dir or cloud.d.
func (l scriptLayout) leftovers(t *testing.T) {
	t.Helper()
	for _, d := range []string{l.conf, filepath.Join(l.lib, "cloud.d")} {
		if left, _ := filepath.Glob(filepath.Join(d, ".*")); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
}

// recordingClaimV1 is a netdata-claim.sh that records the token file's mode
// and content, its arguments and its https_proxy, then claims.
const recordingClaimV1 = `#!/bin/sh
d=$(dirname "$0")
lib="$d/../lib"
stat -c '%a' "$lib/cloud.d/token" > "$d/token-mode"
cat "$lib/cloud.d/token" > "$d/token-seen"
printf '%s\n' "$@" > "$d/args"
printf '%s' "${https_proxy:-}" > "$d/env-proxy"
echo 22222222-3333-4444-8555-666666666666 > "$lib/cloud.d/claimed_id"
rm -f "$lib/cloud.d/token"
echo "Node was successfully claimed."
echo "line two"
`

// TestClaimScriptShells runs claimscript.sh, as fleetclaim sends it, in
// dash, bash and busybox on a temporary layout: the token is in
// cloud.d/token (0600) only while netdata-claim.sh runs, never in its
// arguments, a proxy with credentials is in its environment, the CA chain
// is installed, and nothing is left behind.
func TestClaimScriptShells(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			write(t, filepath.Join(l.bin, "netdata-claim.sh"), recordingClaimV1, 0o755)
			h := testHost("", "")
			h.Claim.Proxy = inventory.NewProxy(credProxy)
			script, args, err := buildClaimScript(h, l.install("root"), "s3cret-token", ca, nil, "", resetPlan{})
			if err != nil {
				t.Fatal(err)
			}
			out := runIn(t, argv, script, nil, args...)
			kv := parseKV(out)
			if kv["claim-rc"] != "0" || kv["token-removed"] != "1" || kv["claimed-id"] != "22222222-3333-4444-8555-666666666666" || kv["ca"] != "written" {
				t.Fatalf("printed %q", out)
			}
			if got := outLines(out, "claim-out="); strings.Join(got, "|") != "Node was successfully claimed.|line two" {
				t.Errorf("claim-out %q", got)
			}
			read := func(n string) string { b, _ := os.ReadFile(filepath.Join(l.bin, n)); return string(b) }
			if read("token-mode") != "600\n" || read("token-seen") != "s3cret-token\n" {
				t.Errorf("token file was %q with %q", read("token-mode"), read("token-seen"))
			}
			if a := read("args"); strings.Contains(a, "s3cret") || strings.Contains(a, "pr0xy") || !strings.Contains(a, "-rooms=") {
				t.Errorf("arguments %q", a)
			}
			if read("env-proxy") != credProxy {
				t.Errorf("https_proxy %q", read("env-proxy"))
			}
			if b, _ := os.ReadFile(filepath.Join(l.lib, "cloud.d/cloud_fullchain.pem")); string(b) != string(ca) {
				t.Errorf("chain %q", b)
			}
			if _, err := os.Lstat(filepath.Join(l.lib, "cloud.d/token")); !os.IsNotExist(err) {
				t.Errorf("token left: %v", err)
			}
			l.leftovers(t)
		})
	}
}

// TestClaimScriptSignalRemovesToken: claimscript.sh cut off by a signal to
// its process group (what sshd does with the session's signal) while
// netdata-claim.sh hangs removes cloud.d/token and its temporary directory,
// in dash, bash and busybox.
func TestClaimScriptSignalRemovesToken(t *testing.T) {
	for name, argv := range testShells(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
			t.Run(name+"/"+sig.String(), func(t *testing.T) {
				l := newLayout(t)
				write(t, filepath.Join(l.bin, "netdata-claim.sh"), "#!/bin/sh\n: > \"$(dirname \"$0\")/started\"\nread -r _ < \"$(dirname \"$0\")/fifo\"\n", 0o755)
				fifo := filepath.Join(l.bin, "fifo")
				if err := syscall.Mkfifo(fifo, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
						f.Close()
					}
				})
				script, args, err := buildClaimScript(testHost("", ""), l.install("root"), "s3cret-token", nil, nil, "", resetPlan{})
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(argv[0], append(append(argv[1:], "-s", "--"), args...)...)
				cmd.Stdin = strings.NewReader(script)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				waitFor(t, filepath.Join(l.bin, "started"))
				if _, err := os.Stat(filepath.Join(l.lib, "cloud.d/token")); err != nil {
					t.Fatalf("no token while the claim runs: %v", err)
				}
				syscall.Kill(-cmd.Process.Pid, sig)
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					t.Fatal("the script did not end after the signal")
				}
				if _, err := os.Lstat(filepath.Join(l.lib, "cloud.d/token")); !os.IsNotExist(err) {
					t.Errorf("cloud.d/token left after %v: %v", sig, err)
				}
				l.leftovers(t)
			})
		}
	}
}

// fakeReloadCLI is a netdatacli that answers reload-claiming-state.
const fakeReloadCLI = `#!/bin/sh
echo "Netdata Agent is claimed to Netdata Cloud and is currently online."
`

// TestClaimConfShells runs claimconf.sh, as fleetclaim sends it, in dash,
// bash and busybox on a temporary layout, with a reset and a new identity:
// the agent is stopped and started, cloud.d and the GUID removed, claim.conf
// written 0640, the chain installed, netdata.conf given the proxy, and the
// agent's answer reported.
func TestClaimConfShells(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			write(t, filepath.Join(l.bin, "netdatacli"), fakeReloadCLI, 0o755)
			os.MkdirAll(filepath.Join(l.lib, "cloud.d"), 0o770)
			write(t, filepath.Join(l.lib, "cloud.d/claimed_id"), "old\n", 0o644)
			svc := filepath.Join(l.root, "service.log")
			reset := &resetPlan{Stop: "echo stop >> " + svc, Start: "echo start >> " + svc, NewIdentity: true}
			conf := "[global]\n    token = s3cret\n"
			script, args, err := buildClaimConfScript(claimConfSpec{In: l.install("root"), Conf: conf, CA: ca, Reset: reset, Root: l.root, CloudProxy: "http://proxy.example:3128"})
			if err != nil {
				t.Fatal(err)
			}
			out := runIn(t, argv, script, nil, args...)
			kv := parseKV(out)
			if kv["reset"] != "1" || kv["stop-rc"] != "0" || kv["ca"] != "written" || kv["written"] != "1" || kv["cloud-proxy"] != "1" || kv["reload-rc"] != "0" ||
				kv["reload-out"] != "Netdata Agent is claimed to Netdata Cloud and is currently online." {
				t.Fatalf("printed %q", out)
			}
			if b, _ := os.ReadFile(svc); string(b) != "stop\nstart\n" {
				t.Errorf("service log %q", b)
			}
			for _, gone := range []string{"cloud.d/claimed_id", "registry/netdata.public.unique.id"} {
				if _, err := os.Stat(filepath.Join(l.lib, gone)); !os.IsNotExist(err) {
					t.Errorf("%s not removed: %v", gone, err)
				}
			}
			st, err := os.Stat(filepath.Join(l.conf, "claim.conf"))
			if b, _ := os.ReadFile(filepath.Join(l.conf, "claim.conf")); err != nil || string(b) != conf || st.Mode().Perm() != 0o640 {
				t.Errorf("claim.conf %v %q %v", st, b, err)
			}
			if b, _ := os.ReadFile(filepath.Join(l.lib, "cloud.d/trusted.pem")); string(b) != string(ca)+"\n" {
				t.Errorf("chain %q", b)
			}
			if b, _ := os.ReadFile(filepath.Join(l.conf, "netdata.conf")); string(b) != "\n[cloud]\n    proxy = http://proxy.example:3128\n" {
				t.Errorf("netdata.conf %q", b)
			}
			l.leftovers(t)
		})
	}
}

// TestKickstartScriptShells runs kickstart.sh in dash, bash and busybox on
// a temporary directory: a pushed script, a pushed bundle, and a fetched
// script (a curl stand-in) with its sha256 right and wrong, and with no
// curl or wget at all. The installer's output reaches the log lines, its
// arguments it, and a failed fetch or pin is reported, not run.
func TestKickstartScriptShells(t *testing.T) {
	installer := "#!/bin/sh\necho \"installing with $*\"\necho second line\nexit 3\n"
	sum := sha256.Sum256([]byte(installer))
	pin := hex.EncodeToString(sum[:])
	// A bin dir whose curl "downloads" the installer; no wget.
	tools := t.TempDir()
	write(t, filepath.Join(tools, "curl"), "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in -o) printf '%s' '"+strings.ReplaceAll(installer, "'", `'\''`)+"' > \"$2\"; shift ;; esac; shift; done\n", 0o755)
	// printf: mksh has no printf builtin (it runs /usr/bin/printf).
	for _, tool := range []string{"sha256sum", "tail", "sh", "cat", "dirname", "printf"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skip(tool)
		}
		os.Symlink(p, filepath.Join(tools, tool))
	}
	noFetcher := t.TempDir()
	for _, tool := range []string{"sha256sum", "tail", "sh"} {
		p, _ := exec.LookPath(tool)
		os.Symlink(p, filepath.Join(noFetcher, tool))
	}
	failing := t.TempDir()
	write(t, filepath.Join(failing, "curl"), "#!/bin/sh\necho 'curl: (6) Could not resolve host' >&2\nexit 6\n", 0o755)
	for _, tool := range []string{"sha256sum", "tail", "sh"} {
		p, _ := exec.LookPath(tool)
		os.Symlink(p, filepath.Join(failing, tool))
	}
	cases := []struct {
		name, how, want, path string
		push                  map[string]string
		err                   string
	}{
		{"pushed script", "file", "", "", map[string]string{"kickstart.sh": installer}, ""},
		{"pushed bundle", "bundle", "", "", map[string]string{"install.sh": installer}, ""},
		{"fetched, pinned", "fetch", pin, tools, nil, ""},
		{"fetched, unpinned", "fetch", "", tools, nil, ""},
		{"fetched, wrong pin", "fetch", strings.Repeat("0", 64), tools, nil, "sha256"},
		{"no curl or wget", "fetch", "", noFetcher, nil, "no-fetcher"},
		{"the download fails", "fetch", "", failing, nil, "fetch"},
	}
	for name, argv := range testShells(t) {
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				for f, body := range c.push {
					write(t, filepath.Join(dir, f), body, 0o755)
				}
				var env []string
				if c.path != "" {
					env = []string{"PATH=" + c.path}
				}
				// The shell by its full path: PATH may not hold it.
				full, _ := exec.LookPath(argv[0])
				argv := append([]string{full}, argv[1:]...)
				out := runIn(t, argv, kickstartScript, env, dir, c.how, "https://get.example/kickstart.sh", c.want, "--non-interactive", "--install-prefix", "/opt x")
				kv := parseKV(out)
				if c.err != "" {
					if kv["fleetclaim-error"] != c.err || kv["kickstart-rc"] != "" {
						t.Fatalf("printed %q, want fleetclaim-error=%s", out, c.err)
					}
					return
				}
				logs := strings.Join(outLines(out, "log="), "|")
				if kv["kickstart-rc"] != "3" || kv["fleetclaim-error"] != "" || logs != "installing with --non-interactive --install-prefix /opt x|second line" {
					t.Fatalf("printed %q", out)
				}
			})
		}
	}
}

// runDockerScript runs a docker-method script as `docker exec -i` does,
// `sh -c SCRIPT sh ARGS` with the file on stdin, in the shell argv.
func runDockerScript(t *testing.T, argv []string, body, stdin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(argv[0], append(append(argv[1:], "-c", libCode+body, "sh"), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return out
}

// TestDockerScriptsShells runs docker-ca.sh and docker-claimconf.sh in
// dash, bash and busybox as docker exec would inside the container: the
// chain is installed 0644 (and a linked cloud.d refused), claim.conf is
// written 0640 from stdin and the agent's answer reported.
func TestDockerScriptsShells(t *testing.T) {
	ca := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			cloudD := filepath.Join(l.lib, "cloud.d")
			kv := parseKV(runDockerScript(t, argv, dockerCAScript, ca, cloudD, l.conf, "root"))
			st, err := os.Stat(filepath.Join(cloudD, "trusted.pem"))
			if b, _ := os.ReadFile(filepath.Join(cloudD, "trusted.pem")); kv["written"] != "1" || err != nil || string(b) != ca || st.Mode().Perm() != 0o644 {
				t.Fatalf("chain: %v %v %q (%v)", kv, st, b, err)
			}
			write(t, filepath.Join(l.bin, "netdatacli"), fakeReloadCLI, 0o755)
			conf := "[global]\n    token = s3cret\n"
			out := runDockerScript(t, argv, dockerClaimConfScript, conf, l.conf, filepath.Join(l.bin, "netdatacli"), "root")
			kv = parseKV(out)
			if kv["written"] != "1" || kv["reload-rc"] != "0" || kv["reload-out"] != "Netdata Agent is claimed to Netdata Cloud and is currently online." {
				t.Fatalf("printed %q", out)
			}
			st, err = os.Stat(filepath.Join(l.conf, "claim.conf"))
			if b, _ := os.ReadFile(filepath.Join(l.conf, "claim.conf")); err != nil || string(b) != conf || st.Mode().Perm() != 0o640 {
				t.Fatalf("claim.conf %v %q %v", st, b, err)
			}
			l.leftovers(t)
			// cloud.d a link: refused by name, nothing written through it.
			other := t.TempDir()
			os.RemoveAll(cloudD)
			os.Symlink(other, cloudD)
			kv = parseKV(runDockerScript(t, argv, dockerCAScript, ca, cloudD, l.conf, "root"))
			if kv["fleetclaim-error"] != "unsafe-path" || kv["fleetclaim-path"] != cloudD || kv["written"] != "" {
				t.Fatalf("linked cloud.d: %v", kv)
			}
			if ents, _ := os.ReadDir(other); len(ents) != 0 {
				t.Fatalf("written through the link: %v", ents)
			}
		})
	}
}

// TestClaimScriptWithoutConfigDir: a v1 agent found by its binary alone
// (no config dir to make root's temporary directory in) is still claimed,
// the token's temporary directory made in /tmp instead, in each shell.
func TestClaimScriptWithoutConfigDir(t *testing.T) {
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			os.RemoveAll(l.conf)
			write(t, filepath.Join(l.bin, "netdata-claim.sh"), recordingClaimV1, 0o755)
			script, args, err := buildClaimScript(testHost("", ""), l.install("root"), "s3cret-token", nil, nil, "", resetPlan{})
			if err != nil {
				t.Fatal(err)
			}
			kv := parseKV(runIn(t, argv, script, nil, args...))
			if kv["claim-rc"] != "0" || kv["token-removed"] != "1" || kv["fleetclaim-error"] != "" {
				t.Fatalf("printed %v", kv)
			}
			if b, _ := os.ReadFile(filepath.Join(l.bin, "token-seen")); string(b) != "s3cret-token\n" {
				t.Fatalf("token file held %q", b)
			}
		})
	}
}

// TestTokenCleanupShells runs tokencleanup.sh in dash, bash and busybox:
// it removes cloud.d/token and the claim's temporary directories, and
// reads nothing through a linked cloud.d.
func TestTokenCleanupShells(t *testing.T) {
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			cloudD := filepath.Join(l.lib, "cloud.d")
			os.MkdirAll(filepath.Join(cloudD, ".fleetclaim.b"), 0o700)
			os.MkdirAll(filepath.Join(l.conf, ".fleetclaim.a"), 0o700)
			write(t, filepath.Join(l.conf, ".fleetclaim.a/token"), "s3cret\n", 0o600)
			write(t, filepath.Join(cloudD, "token"), "s3cret\n", 0o600)
			write(t, filepath.Join(cloudD, "claimed_id"), "keep\n", 0o644)
			write(t, filepath.Join(l.conf, ".claim.conf.fleetclaim.77"), "[global]\n", 0o600)
			write(t, filepath.Join(l.conf, ".netdata.conf.fleetclaim.78"), "[global]\n", 0o600)
			target := filepath.Join(t.TempDir(), "target")
			write(t, target, "keep\n", 0o644)
			if err := os.Symlink(target, filepath.Join(l.conf, ".netdata.conf.fleetclaim.79")); err != nil {
				t.Fatal(err)
			}
			kv := parseKV(runIn(t, argv, libSnippet(t, tokenCleanupScript), nil, cloudD, l.conf))
			if kv["token-removed"] != "1" {
				t.Fatalf("printed %v", kv)
			}
			if _, err := os.Stat(filepath.Join(cloudD, "token")); !os.IsNotExist(err) {
				t.Errorf("token left: %v", err)
			}
			if _, err := os.Stat(filepath.Join(cloudD, "claimed_id")); err != nil {
				t.Errorf("claimed_id removed: %v", err)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("a linked temporary file's target removed: %v", err)
			}
			l.leftovers(t)
			// A linked cloud.d: what it points to is left alone.
			other := t.TempDir()
			write(t, filepath.Join(other, "token"), "not ours\n", 0o600)
			os.MkdirAll(filepath.Join(other, ".fleetclaim.c"), 0o700)
			os.RemoveAll(cloudD)
			os.Symlink(other, cloudD)
			runIn(t, argv, libSnippet(t, tokenCleanupScript), nil, cloudD, l.conf)
			if ents, _ := os.ReadDir(other); len(ents) != 2 {
				t.Errorf("removed through the link: %v", ents)
			}
		})
	}
}

// TestTokenCleanupCloudDSwapped: the agent's user swaps cloud.d for a link
// to a directory of its choice after tokencleanup.sh's check (an rm
// stand-in does it at the last moment): nothing in the link's target is
// removed, and cloud.d's own token still goes.
func TestTokenCleanupCloudDSwapped(t *testing.T) {
	realRm, err1 := exec.LookPath("rm")
	realMv, err2 := exec.LookPath("mv")
	realLn, err3 := exec.LookPath("ln")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Skip("no rm, mv or ln")
	}
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			l := newLayout(t)
			cloudD := filepath.Join(l.lib, "cloud.d")
			os.MkdirAll(cloudD, 0o770)
			write(t, filepath.Join(cloudD, "token"), "s3cret\n", 0o600)
			victim, wrap := t.TempDir(), t.TempDir()
			write(t, filepath.Join(victim, "token"), "not ours\n", 0o600)
			os.Mkdir(filepath.Join(victim, ".fleetclaim.v"), 0o700)
			write(t, filepath.Join(wrap, "rm"), "#!/bin/sh\n"+
				"if [ ! -h \"$SWAP\" ]; then "+realMv+" \"$SWAP\" \"$SWAP.real\" && "+realLn+" -s \"$VICTIM\" \"$SWAP\"; fi\n"+
				"exec "+realRm+" \"$@\"\n", 0o755)
			env := []string{"PATH=" + wrap + ":" + os.Getenv("PATH"), "SWAP=" + cloudD, "VICTIM=" + victim}
			out := runIn(t, argv, libSnippet(t, tokenCleanupScript), env, cloudD, l.conf)
			if st, err := os.Lstat(cloudD); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("the stand-in did not swap cloud.d (%v %v): the test proves nothing", st, err)
			}
			if ents, _ := os.ReadDir(victim); len(ents) != 2 {
				t.Fatalf("removed in the swapped-in link's target: left %v (printed %q)", ents, out)
			}
			if _, err := os.Stat(filepath.Join(cloudD+".real", "token")); !os.IsNotExist(err) || parseKV(out)["token-removed"] != "1" {
				t.Errorf("cloud.d's token: %v; printed %q", err, out)
			}
		})
	}
}

// TestWaitReadyMissingCLI: wait_ready does not wait for a netdatacli the
// shell cannot find (exit 127): it says so at once, where a wait of a
// netdatacli that exits 255 (no pipe yet) would last FC_READY_TICKS.
func TestWaitReadyMissingCLI(t *testing.T) {
	for name, argv := range testShells(t) {
		t.Run(name, func(t *testing.T) {
			script := libSnippet(t, "FC_READY_TICKS=1000000; wait_ready \"$1\"\n")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, argv[0], append(append(argv[1:], "-s", "--"), filepath.Join(t.TempDir(), "netdatacli"))...)
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.Output()
			if ctx.Err() != nil {
				t.Fatal("wait_ready waited for a netdatacli that does not exist")
			}
			if kv := parseKV(out); err != nil || kv["ready-rc"] != "127" {
				t.Fatalf("printed %q (%v), want ready-rc=127", out, err)
			}
		})
	}
}
