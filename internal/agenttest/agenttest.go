// Package agenttest runs real Netdata Agents for fleetclaim's end-to-end
// tests, each on a "host" of its own: a mount namespace (unshare --mount
// --propagation private) whose agent files are private bind mounts, so that
// several agents, and the sshd that reaches each one, run side by side on
// one machine without touching the machine's own Netdata files.
//
//   - v2: the real Netdata v2.11.0 agent of ../shared/netdata-v2, installed
//     once into /opt/netdata (the static layout); each host binds its own
//     etc/netdata, var/{lib,cache,log}/netdata and /run, and runs
//     its own daemon on its own web port.
//   - v1: Debian's netdata-core package (1.37.1, built without Cloud); each
//     host binds its own /etc/netdata, /var/{lib,cache,log}/netdata and
//     /run, and may replace /usr/sbin/netdata-claim.sh with a copy of
//     the installed script whose two build-time "no Cloud" guards are cut
//     out at test time (V1Options.StripGuards).
//
// Cloud is a stand-in for Netdata Cloud's claim endpoint (HTTPS on
// 127.0.0.1) whose every answer names its source in Netdata's code.
//
// Everything here needs root, unshare and nsenter; without them the entry
// points skip the test. Tests import this package, and cmd/fleetbench
// (--real), through TB.
package agenttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// V2Version is the version of the real v2 agent the harness runs.
const V2Version = "2.11.0"

// V2Prefix is where the v2 agent is installed (Netdata's static layout).
const V2Prefix = "/opt/netdata"

// tarballName is the v2 agent's archive in the shared directory.
const tarballName = "netdata-v2.11.0-linux-amd64.tar.zst"

// Default waits.
const (
	defaultReadyWait = 30 * time.Second
	defaultStopWait  = 20 * time.Second
	pollEvery        = 50 * time.Millisecond
)

// RequireRoot skips t unless it runs as root with unshare and nsenter.
func RequireRoot(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real-agent tests need root")
	}
	for _, p := range []string{"unshare", "nsenter", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("real-agent tests need %s: %v", p, err)
		}
	}
}

// SharedDir finds the shared fixtures directory: $FLEETCLAIM_SHARED, else
// the first "shared" directory holding netdata-v2 beside the repository's
// root or beside one of its parents (a git worktree lives below the main
// clone's parent).
func SharedDir() (string, error) {
	if d := os.Getenv("FLEETCLAIM_SHARED"); d != "" {
		return d, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		s := filepath.Join(d, "shared")
		if st, err := os.Stat(filepath.Join(s, "netdata-v2")); err == nil && st.IsDir() {
			return s, nil
		}
		if filepath.Dir(d) == d {
			return filepath.Join(filepath.Dir(root), "shared"), nil
		}
	}
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above " + wd)
		}
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// RequireV2 skips t unless the real v2 agent can run here, and installs it
// into /opt/netdata when it is not there yet.
func RequireV2(t TB) {
	t.Helper()
	RequireRoot(t)
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skipf("the v2 agent's archive needs zstd: %v", err)
	}
	if _, err := exec.Command("id", "-u", "netdata").Output(); err != nil {
		t.Skip("no netdata user (the netdata-core package creates it)")
	}
	if err := withLock(installV2); err != nil {
		if errors.Is(err, errNoTarball) {
			t.Skip(err.Error())
		}
		t.Fatal(err)
	}
}

var errNoTarball = errors.New("the v2 agent's archive is not available")

// installV2 extracts the v2 agent into /opt/netdata unless it is there, as
// ../shared/netdata-v2/README.md says.
func installV2() error {
	if out, err := exec.Command(V2Prefix+"/bin/netdata", "-v").Output(); err == nil {
		if strings.TrimSpace(string(out)) == "netdata v"+V2Version {
			return nil
		}
		return fmt.Errorf("%s/bin/netdata is %q, not v%s: remove /opt/netdata", V2Prefix, strings.TrimSpace(string(out)), V2Version)
	}
	shared, err := SharedDir()
	if err != nil {
		return fmt.Errorf("%w: %v", errNoTarball, err)
	}
	tb := filepath.Join(shared, "netdata-v2", tarballName)
	if _, err := os.Stat(tb); err != nil {
		return fmt.Errorf("%w: %v", errNoTarball, err)
	}
	if err := run("tar", "--zstd", "-xf", tb, "-C", "/"); err != nil {
		return err
	}
	dirs := []string{}
	for _, d := range []string{"lib", "cache", "log", "run"} {
		dirs = append(dirs, V2Prefix+"/var/"+d+"/netdata")
	}
	return run("chown", append([]string{"-R", "netdata:netdata"}, dirs...)...)
}

// RequireV1 skips t unless Debian's netdata package is installed.
func RequireV1(t TB) {
	t.Helper()
	RequireRoot(t)
	for _, p := range []string{"/usr/sbin/netdata", "/usr/sbin/netdata-claim.sh", "/etc/netdata/netdata.conf"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("the netdata package is not installed: %v", err)
		}
	}
}

// V1PackageVersion is the installed netdata-core's version (dpkg-query), or
// "" when dpkg knows none.
func V1PackageVersion() string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "netdata-core").Output()
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(out))
	// "1.37.1-2" is upstream 1.37.1, Debian revision 2.
	if i := strings.LastIndex(v, "-"); i > 0 {
		v = v[:i]
	}
	return v
}

// Host is one host: a mount namespace with its own agent files.
type Host struct {
	Name string
	// Gen is the agent's claim generation: 1 or 2.
	Gen int
	// Dir holds the host's private files on the machine: etc, lib, cache,
	// log and run are bound over the agent's directories inside the host.
	Dir string
	// ConfigDir, VarLibDir and CLI are the agent's paths as the host sees
	// them.
	ConfigDir, VarLibDir, CLI, Binary string
	// Port is the agent's web port (v2).
	Port int

	holder *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	daemon bool
}

// mount is one bind mount: Src on the machine over Dst inside the host.
type mount struct{ src, dst string }

// privateTmp, as a mount's src, gives the host a /tmp of its own (a tmpfs)
// in which only the machine's directories named by shareTmp mounts (dst
// under /tmp) stay visible, at their own paths.
const (
	privateTmp = "\x00private-tmp"
	shareTmp   = "\x00share-tmp"
)

// holderScript makes the host's mounts, then waits for its stdin to close.
// Its arguments are pairs: a bind mount's source and target, or a
// privateTmp / shareTmp marker and its path.
const holderScript = `set -e
while [ $# -gt 0 ]; do
  case $1 in
  private-tmp) mkdir -p /run/.machine-tmp; mount --bind /tmp /run/.machine-tmp; mount -t tmpfs -o mode=1777 tmpfs /tmp ;;
  share-tmp) mkdir -p "$2"; mount --bind "/run/.machine-tmp/${2#/tmp/}" "$2" ;;
  *) mount --bind "$1" "$2" ;;
  esac
  shift 2
done
echo ready
exec cat >/dev/null`

// newHost starts the namespace holder with the bind mounts and stops it in
// t.Cleanup (after everything registered later, such as the agent and
// sshd, has stopped).
func newHost(t TB, name string, mounts []mount) *Host {
	t.Helper()
	h := &Host{Name: name, exited: make(chan struct{})}
	args := []string{"--mount", "--propagation", "private", "--", "sh", "-c",
		holderScript, "sh"}
	for _, m := range mounts {
		src := m.src
		switch src {
		case privateTmp:
			src = "private-tmp"
		case shareTmp:
			src = "share-tmp"
		}
		args = append(args, src, m.dst)
	}
	cmd := exec.Command("unshare", args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.holder, h.stdin = cmd, stdin
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	go func() { cmd.Wait(); close(h.exited) }()
	if line != "ready\n" {
		<-h.exited
		t.Fatalf("host %s: mounts failed: %s", name, stderr.String())
	}
	ns, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/mnt")
	if self, _ := os.Readlink("/proc/self/ns/mnt"); ns == self {
		t.Fatalf("host %s: unshare left the holder in the machine's mount namespace", name)
	}
	t.Cleanup(func() {
		// Whatever still runs in the host (an agent that fleetclaim started
		// through a service, a session's process) was started by this test.
		if ns != "" {
			stopNamespace(t, name, ns, cmd.Process.Pid)
		}
		stdin.Close()
		select {
		case <-h.exited:
		case <-time.After(defaultStopWait):
			cmd.Process.Kill()
			<-h.exited
		}
	})
	return h
}

// stopNamespace stops every process in the mount namespace ns but the
// holder: SIGTERM, then SIGKILL after the bound.
func stopNamespace(t TB, host, ns string, holder int) {
	deadline := time.Now().Add(defaultStopWait)
	sig := syscall.SIGTERM
	for {
		pids := namespacePIDs(ns, holder)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) && sig == syscall.SIGTERM {
			t.Logf("host %s: %d processes did not stop after %s: killed", host, len(pids), defaultStopWait)
			sig = syscall.SIGKILL
		}
		for _, p := range pids {
			syscall.Kill(p, sig)
		}
		time.Sleep(pollEvery)
	}
}

// namespacePIDs lists the live processes whose mount namespace is ns.
func namespacePIDs(ns string, except int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == except || pid == os.Getpid() {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/mnt"); err == nil && l == ns && !gone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Prefix is the command that runs a program inside the host (for
// sshdtest.Options.Prefix).
func (h *Host) Prefix() []string {
	return []string{"nsenter", "--target", strconv.Itoa(h.holder.Process.Pid), "--mount", "--"}
}

// Command returns a command that runs inside the host.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append(h.Prefix(), name)
	return exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
}

// Output is what a command printed and its exit code.
type Output struct {
	Stdout, Stderr string
	Code           int
}

// Run runs a command inside the host and returns its output and exit code;
// failing to start it fails t.
func (h *Host) Run(t TB, name string, args ...string) Output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return h.RunContext(ctx, t, nil, name, args...)
}

// RunContext is Run with a context and environment additions.
func (h *Host) RunContext(ctx context.Context, t TB, env []string, name string, args ...string) Output {
	t.Helper()
	cmd := h.Command(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("host %s: %s: %v", h.Name, name, err)
		}
		code = ee.ExitCode()
	}
	return Output{Stdout: o.String(), Stderr: e.String(), Code: code}
}

// Lib returns the machine's path of a file under the agent's var lib dir.
func (h *Host) Lib(rel ...string) string {
	return filepath.Join(append([]string{h.Dir, "lib"}, rel...)...)
}

// Etc returns the machine's path of a file under the agent's config dir.
func (h *Host) Etc(rel ...string) string {
	return filepath.Join(append([]string{h.Dir, "etc"}, rel...)...)
}

// PIDFile is the machine's path of the v2 agent's pid file (its init
// script's /opt/netdata/var/run/netdata/netdata.pid).
func (h *Host) PIDFile() string { return filepath.Join(h.Dir, "varrun", "netdata.pid") }

// pidFiles are the pid files an agent of the host may write: the v2
// init script's, and Debian's init script's /run/netdata.pid.
func (h *Host) pidFiles() []string {
	return []string{h.PIDFile(), filepath.Join(h.Dir, "run", "netdata.pid"), filepath.Join(h.Dir, "run", "netdata", "netdata.pid")}
}

// hostDirs makes the host's private etc (a copy of etcSrc), lib, cache,
// log and run directories; the agent's user owns all but etc.
func hostDirs(t TB, name, etcSrc string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fleetclaim-agent-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run("cp", "-a", etcSrc, filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	// run is the host's own /run: sshd's privilege separation directory,
	// the agent's /run/netdata (its pipe and pid file) and, for Debian's
	// init script, /run/netdata.pid.
	for _, d := range []string{"lib", "cache", "log", "run", "run/netdata", "run/sshd", "run/lock", "varrun", "empty"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "run", "lock"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := run("chown", "netdata:netdata", filepath.Join(dir, "lib"), filepath.Join(dir, "cache"), filepath.Join(dir, "log"), filepath.Join(dir, "run", "netdata"), filepath.Join(dir, "varrun")); err != nil {
		t.Fatal(err)
	}
	// A file nothing may execute: bound over a binary, the host has none.
	if err := os.WriteFile(filepath.Join(dir, "absent"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ensureDir makes a mount point that the machine may lack. It stays empty.
func ensureDir(t TB, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

// V2Options configure a v2 host.
type V2Options struct {
	Name string
	// Conf is appended to the host's netdata.conf (after the harness's
	// [global], [web], [db] and [health] sections).
	Conf string
	// NoStart leaves the agent stopped (Start starts it).
	NoStart bool
}

// NewV2 makes a v2 host and, unless o.NoStart, starts its agent and waits
// until `netdatacli ping` answers that it is ready. The agent stops in
// t.Cleanup.
func NewV2(t TB, o V2Options) *Host {
	t.Helper()
	RequireV2(t)
	if o.Name == "" {
		o.Name = "v2"
	}
	dir := hostDirs(t, o.Name, V2Prefix+"/etc/netdata")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[global]\n    run as user = netdata\n\n[web]\n    bind to = 127.0.0.1\n    default port = %d\n\n[db]\n    mode = ram\n\n[health]\n    enabled = no\n%s", port, o.Conf)
	if err := os.WriteFile(filepath.Join(dir, "etc", "netdata.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []mount{
		{dir + "/etc", V2Prefix + "/etc/netdata"},
		{dir + "/lib", V2Prefix + "/var/lib/netdata"},
		{dir + "/cache", V2Prefix + "/var/cache/netdata"},
		{dir + "/log", V2Prefix + "/var/log/netdata"},
		{dir + "/run", "/run"},
		{dir + "/varrun", V2Prefix + "/var/run/netdata"},
	}
	mounts = append(mounts, hideV1(dir)...)
	if m, err := v2InitScript(dir); err != nil {
		t.Fatal(err)
	} else if m != nil {
		mounts = append(mounts, *m)
	}
	h := newHost(t, o.Name, mounts)
	h.Gen, h.Dir, h.Port = 2, dir, port
	h.ConfigDir, h.VarLibDir = V2Prefix+"/etc/netdata", V2Prefix+"/var/lib/netdata"
	h.CLI, h.Binary = V2Prefix+"/bin/netdatacli", V2Prefix+"/bin/netdata"
	if !o.NoStart {
		h.Start(t)
		h.WaitReady(t)
	}
	return h
}

// hideV1 hides the machine's Debian package from a v2 host: an empty
// /etc/netdata and no netdata binaries in /usr/sbin, as on a machine where
// only the static v2 agent is installed.
func hideV1(dir string) []mount {
	var m []mount
	if st, err := os.Stat("/etc/netdata"); err == nil && st.IsDir() {
		m = append(m, mount{dir + "/empty", "/etc/netdata"})
	}
	for _, f := range []string{"/usr/sbin/netdata", "/usr/sbin/netdatacli", "/usr/sbin/netdata-claim.sh"} {
		if _, err := os.Stat(f); err == nil {
			m = append(m, mount{dir + "/absent", f})
		}
	}
	return m
}

// v2LSBScript is the static install's LSB init script, which Netdata's
// installer puts in /etc/init.d on a host without systemd (the archive's
// usr/lib/netdata/system/lsb/init.d/netdata; its pid file is
// var/run/netdata/netdata.pid under /opt/netdata).
const v2LSBScript = V2Prefix + "/usr/lib/netdata/system/lsb/init.d/netdata"

// v2InitScript gives a v2 host the static install's init script as its
// /etc/init.d/netdata (an executable copy), so that a service stop, start
// or restart reaches the host's own agent. Without /etc/init.d on the
// machine (nothing to bind over) there is none.
func v2InitScript(dir string) (*mount, error) {
	if _, err := os.Stat("/etc/init.d/netdata"); err != nil {
		return nil, nil
	}
	b, err := os.ReadFile(v2LSBScript)
	if err != nil {
		return nil, err
	}
	f := filepath.Join(dir, "init.d-netdata")
	if err := os.WriteFile(f, b, 0o755); err != nil {
		return nil, err
	}
	return &mount{f, "/etc/init.d/netdata"}, nil
}

// Start starts the host's agent daemonised, with the pid file its init
// script uses, and stops it in t.Cleanup. It does not wait.
func (h *Host) Start(t TB) {
	t.Helper()
	os.Remove(h.PIDFile())
	out := h.Run(t, h.Binary, "-P", V2Prefix+"/var/run/netdata/netdata.pid", "-c", h.ConfigDir+"/netdata.conf")
	if out.Code != 0 {
		t.Fatalf("host %s: %s exited %d: %s%s", h.Name, h.Binary, out.Code, out.Stdout, out.Stderr)
	}
	if !h.daemon {
		h.daemon = true
		t.Cleanup(func() { h.Stop(t) })
	}
}

// WaitReady waits until `netdatacli ping` exits 0 (the agent is ready; 1
// while it initializes, 255 while its pipe does not exist).
func (h *Host) WaitReady(t TB) {
	t.Helper()
	deadline := time.Now().Add(defaultReadyWait)
	for {
		out := h.Run(t, h.CLI, "ping")
		if out.Code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s: the agent was not ready after %s: ping exited %d: %s%s\n%s", h.Name, defaultReadyWait, out.Code, out.Stdout, out.Stderr, h.daemonLog())
		}
		time.Sleep(pollEvery)
	}
}

func (h *Host) daemonLog() string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "log", "daemon.log"))
	if len(b) > 32000 {
		b = b[len(b)-32000:]
	}
	return string(b)
}

// PID is the running agent's pid from its pid files, or 0.
func (h *Host) PID() int {
	for _, f := range h.pidFiles() {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || gone(pid) || !isNetdata(pid) {
			continue
		}
		return pid
	}
	return 0
}

// isNetdata reports whether pid runs a netdata binary (a stale pid file
// may name a process of someone else).
func isNetdata(pid int) bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && filepath.Base(exe) == "netdata"
}

// Stop sends SIGTERM to the host's agent, whoever started it (the harness,
// or fleetclaim through the host's init script), and waits for it to exit
// (SIGKILL after the bound).
func (h *Host) Stop(t TB) {
	for pid := h.PID(); pid != 0; pid = h.PID() {
		h.stop(t, pid)
	}
}

func (h *Host) stop(t TB, pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(defaultStopWait)
	for gone(pid) == false {
		if time.Now().After(deadline) {
			t.Logf("host %s: the agent (pid %d) did not stop after %s: killed", h.Name, pid, defaultStopWait)
			syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(defaultStopWait)
		}
		time.Sleep(pollEvery)
	}
}

// gone reports whether pid has exited (a zombie counts as exited).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// V1Options configure a v1 host.
type V1Options struct {
	Name string
	// StripGuards replaces the host's /usr/sbin/netdata-claim.sh with a copy
	// of the installed one without its two build-time "no Cloud" guards
	// (StrippedClaimScript).
	StripGuards bool
	// InstallType, when set, is written to the host's
	// /etc/netdata/.install-type as INSTALL_TYPE='...'.
	InstallType string
	// Conf, when set, replaces the host's netdata.conf.
	Conf string
	// Share lists the machine's directories under /tmp that the host must
	// see (an sshdtest.Env's Dir, for the host's sshd). The host's /tmp is
	// its own: Debian's 1.37.1 netdatacli talks to its agent through
	// /tmp/netdata-ipc (daemon/commands.h:9 at v1.37.1), and a machine's
	// /tmp would join the host to the machine's agent.
	Share []string
	// InitScript keeps Debian's /etc/init.d/netdata. Without it the host
	// has no service to start (service netdata start fails): Debian's
	// binary, built without Cloud, could not link to Cloud anyway, and
	// every v1 host would start a daemon on the same default port.
	InitScript bool
	// StartCPU, with InitScript, is the share of one CPU (percent) that
	// the init script, and so the agent it starts, gets: a slow start, as
	// on a loaded host (slowstart.go). 0: no limit.
	StartCPU int
}

// NewV1 makes a v1 host with Debian's package. Its agent does not run.
func NewV1(t TB, o V1Options) *Host {
	t.Helper()
	RequireV1(t)
	if o.Name == "" {
		o.Name = "v1"
	}
	dir := hostDirs(t, o.Name, "/etc/netdata")
	if o.InstallType != "" {
		if err := os.WriteFile(filepath.Join(dir, "etc", ".install-type"), []byte("INSTALL_TYPE='"+o.InstallType+"'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.Conf != "" {
		if err := os.WriteFile(filepath.Join(dir, "etc", "netdata.conf"), []byte(o.Conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"/var/lib/netdata", "/var/cache/netdata", "/var/log/netdata"} {
		ensureDir(t, d)
	}
	mounts := []mount{
		{dir + "/etc", "/etc/netdata"},
		{dir + "/lib", "/var/lib/netdata"},
		{dir + "/cache", "/var/cache/netdata"},
		{dir + "/log", "/var/log/netdata"},
		{dir + "/run", "/run"},
	}
	if o.StripGuards {
		script := filepath.Join(dir, "netdata-claim.sh")
		if err := os.WriteFile(script, StrippedClaimScript(t), 0o755); err != nil {
			t.Fatal(err)
		}
		mounts = append(mounts, mount{script, "/usr/sbin/netdata-claim.sh"})
	}
	if st, err := os.Stat(V2Prefix); err == nil && st.IsDir() {
		mounts = append(mounts, mount{dir + "/empty", V2Prefix})
	}
	if o.InitScript && o.StartCPU > 0 {
		mounts = append(mounts, slowInitMounts(t, dir, newCPUCgroup(t, o.Name, o.StartCPU))...)
	}
	if !o.InitScript {
		if _, err := os.Stat("/etc/init.d/netdata"); err == nil {
			mounts = append(mounts, mount{dir + "/absent", "/etc/init.d/netdata"})
		}
	}
	mounts = append(mounts, mount{privateTmp, "/tmp"})
	for _, d := range o.Share {
		// A directory elsewhere stays visible anyway.
		if strings.HasPrefix(filepath.Clean(d), "/tmp/") {
			mounts = append(mounts, mount{shareTmp, filepath.Clean(d)})
		}
	}
	h := newHost(t, o.Name, mounts)
	h.Gen, h.Dir = 1, dir
	h.ConfigDir, h.VarLibDir = "/etc/netdata", "/var/lib/netdata"
	h.CLI, h.Binary = "/usr/sbin/netdatacli", "/usr/sbin/netdata"
	// fleetclaim may start the agent through the host's init script.
	t.Cleanup(func() { h.Stop(t) })
	return h
}

// The two build-time guards of Debian's netdata-claim.sh (lines 121-129 of
// the installed 1.37.1 file; claim/netdata-claim.sh.in:121-129 at v1.37.1
// has them as `if [ "@enable_cloud_POST@" = "no" ]` and `if [
// "@enable_aclk_POST@" != "yes" ]`, filled in at build time): each an
// if-block that exits 3.
var guardStarts = []string{`if [ "no" = "no" ]; then`, `if [ "" != "yes" ]; then`}

// StrippedClaimScript returns the installed /usr/sbin/netdata-claim.sh with
// its two guard blocks (and nothing else) removed. It fails t when the
// installed script does not hold exactly those two blocks.
func StrippedClaimScript(t TB) []byte {
	t.Helper()
	b, err := os.ReadFile("/usr/sbin/netdata-claim.sh")
	if err != nil {
		t.Fatal(err)
	}
	out, removed, err := stripGuards(b)
	if err != nil {
		t.Fatalf("/usr/sbin/netdata-claim.sh: %v", err)
	}
	if removed != 2 {
		t.Fatalf("/usr/sbin/netdata-claim.sh: %d guard blocks found, want 2", removed)
	}
	return out
}

// stripGuards removes each guard block: its if line, the lines up to its fi
// (an echo to stderr and "exit 3").
func stripGuards(b []byte) ([]byte, int, error) {
	lines := strings.SplitAfter(string(b), "\n")
	var out strings.Builder
	removed := 0
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\n")
		if !isGuard(l) {
			out.WriteString(lines[i])
			continue
		}
		if i+3 >= len(lines) || !strings.Contains(lines[i+1], "cannot be claimed") ||
			strings.TrimSpace(lines[i+2]) != "exit 3" || strings.TrimSpace(lines[i+3]) != "fi" {
			return nil, 0, fmt.Errorf("guard at line %d is not the expected 4-line block", i+1)
		}
		i += 3
		removed++
	}
	return []byte(out.String()), removed, nil
}

func isGuard(l string) bool {
	for _, g := range guardStarts {
		if l == g {
			return true
		}
	}
	return false
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func withLock(f func() error) error {
	return sshdtest.WithFileLock("/run/fleetclaim-agenttest.lock", f)
}

// TB is what the harness needs of its caller (sshdtest.TB): a test, or a
// program such as cmd/fleetbench.
type TB = sshdtest.TB
