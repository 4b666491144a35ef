package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/agenttest"
	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// The stand-in Cloud's token and room for --real fleets.
const (
	realToken = "fleetbench-real-token-5e2a"
	realRoom  = "9c1e7a44-2b6d-4f0e-8a3b-5d7c2e9f1a60"
)

// realSetupWorkers is how many hosts are made (or reset) at once.
const realSetupWorkers = 4

// realFleet is a fleet of real agents, each on a host of its own (a mount
// namespace, internal/agenttest) behind its own real sshd, claimed through
// the stand-in Cloud.
type realFleet struct {
	gen   string // v1 or v2
	h     *harness
	env   *sshdtest.Env
	cloud *agenttest.Cloud
	hosts []realHost
	// inventory is fleetclaim's; hostsFile the floor's USER@ADDR:PORT
	// lines; script the floor's claim on stdin.
	inventory, hostsFile, knownHosts, script string
}

type realHost struct {
	name  string
	agent *agenttest.Host
	sshd  *sshdtest.Server
}

// realMain runs --real v1 or v2: fleetclaim and the floor, alternating,
// on real agents behind real sshd.
func realMain(ctx context.Context, c *config) int {
	if os.Geteuid() != 0 {
		return fatalf("--real needs root (sshd, mount namespaces)")
	}
	for _, t := range c.tools {
		if t != "fleetclaim" && t != "floor" {
			return fatalf("--real: the tools are fleetclaim and floor, not %s", t)
		}
	}
	dir, err := os.MkdirTemp("", "fleetbench-real.")
	if err != nil {
		return fatalf("%v", err)
	}
	c.dir = dir
	defer os.RemoveAll(dir)
	printMachine(c)
	h := &harness{dir: dir}
	defer h.close()
	f := &realFleet{gen: c.real, h: h}
	began := time.Now()
	if err := h.try(func() { f.setup(c) }); err != nil {
		return fatalf("%v", err)
	}
	fmt.Printf("real:    %d %s hosts up in %s\n", len(f.hosts), c.real, time.Since(began).Round(time.Millisecond))
	if c.rtt > 0 {
		proxy, err := f.delay(c)
		if proxy != nil {
			defer func() { _ = proxy.Process.Kill(); _ = proxy.Wait() }()
		}
		if err != nil {
			return fatalf("--rtt: %v", err)
		}
	}
	var runs []run
	for round := range c.runs {
		for i := range c.tools {
			tool := c.tools[(i+round)%len(c.tools)]
			if ctx.Err() != nil {
				return 1
			}
			if len(runs) > 0 {
				if err := f.reset(ctx); err != nil {
					return fatalf("reset the hosts: %v", err)
				}
			}
			r := f.measure(ctx, c, tool, round, "")
			printRealRun(c, r)
			runs = append(runs, r)
		}
	}
	summarize(c, runs)
	if c.debugRun {
		if err := f.reset(ctx); err != nil {
			return fatalf("reset the hosts: %v", err)
		}
		f.debugBreakdown(ctx, c)
	}
	for _, r := range runs {
		if r.err != "" {
			return 1
		}
	}
	return 0
}

// setup makes the hosts, their sshd, the stand-in Cloud (with the link for
// v2), fleetclaim's inventory and the floor's files.
func (f *realFleet) setup(c *config) {
	f.env = sshdtest.New(f.h)
	f.cloud = agenttest.NewCloud(f.h)
	if f.gen == "v2" {
		f.cloud.ServeLink()
	}
	f.hosts = make([]realHost, c.hosts)
	errs := f.each(func(i int) {
		name := fmt.Sprintf("real-%03d", i+1)
		a := f.newAgent(name)
		s := f.env.Start(f.h, sshdtest.Options{Name: name, Prefix: a.Prefix(), MaxStartups: "200",
			Extra: []string{"LogLevel ERROR", "SetEnv SHLVL=1"}})
		f.hosts[i] = realHost{name: name, agent: a, sshd: s}
	})
	if len(errs) > 0 {
		f.h.Fatal(errs[0])
	}
	f.writeFiles(c)
}

// each runs fn for every host index, realSetupWorkers at a time, and
// returns what ended any of them early.
func (f *realFleet) each(fn func(i int)) []error {
	work := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range realSetupWorkers {
		wg.Go(func() {
			for i := range work {
				if err := f.h.try(func() { fn(i) }); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range len(f.hosts) {
		work <- i
	}
	close(work)
	wg.Wait()
	return errs
}

// newAgent makes one host. v1: Debian's 1.37.1 with its real
// netdata-claim.sh (the build-time guards cut out), its init script, a web
// port of its own, stopped. v2: the real v2.11.0 agent, running.
func (f *realFleet) newAgent(name string) *agenttest.Host {
	if f.gen == "v1" {
		port, err := freePort()
		if err != nil {
			f.h.Fatal(err)
		}
		conf := fmt.Sprintf("[global]\n    run as user = netdata\n\n[web]\n    bind to = 127.0.0.1\n    default port = %d\n\n[db]\n    mode = ram\n\n[health]\n    enabled = no\n", port)
		a := agenttest.NewV1(f.h, agenttest.V1Options{Name: name, StripGuards: true, InstallType: "binpkg-deb",
			Share: []string{f.env.Dir}, InitScript: true, Conf: conf})
		// The agent has run before, as on any host it was installed on: its
		// registry (the machine GUID) is its own. Then it is stopped.
		if out := a.Run(f.h, "/etc/init.d/netdata", "start"); out.Code != 0 {
			f.h.Fatalf("%s: /etc/init.d/netdata start exited %d: %s%s", name, out.Code, out.Stdout, out.Stderr)
		}
		a.WaitReady(f.h)
		a.Stop(f.h)
		return a
	}
	a := agenttest.NewV2(f.h, agenttest.V2Options{Name: name, NoStart: true})
	a.Start(f.h)
	a.WaitReady(f.h)
	return a
}

// delay puts a delaying proxy (half of --rtt each way) in front of every
// sshd and writes the tools' files for the proxies' addresses.
func (f *realFleet) delay(c *config) (*exec.Cmd, error) {
	var addrs []string
	for _, h := range f.hosts {
		addrs = append(addrs, h.sshd.Addr)
	}
	cmd, ports, err := delayProxies(c.rtt/2, addrs)
	if err != nil {
		return cmd, err
	}
	var herr error
	if err := f.h.try(func() { f.writeFilesAt(c, "127.0.0.1", ports) }); err != nil {
		herr = err
	}
	return cmd, herr
}

func (f *realFleet) writeFiles(c *config) {
	var ports []int
	for _, h := range f.hosts {
		ports = append(ports, h.sshd.Port)
	}
	f.writeFilesAt(c, "", ports)
}

// writeFilesAt writes the tools' files for the hosts at addr (each its
// sshd's own address when "") and ports.
func (f *realFleet) writeFilesAt(c *config, addr string, ports []int) {
	var kh []string
	var hb, hosts strings.Builder
	extra := ""
	if f.gen == "v2" {
		extra = ", insecure: true"
	}
	for i, h := range f.hosts {
		host := addr
		if host == "" {
			host = h.sshd.Host
		}
		kh = append(kh, fmt.Sprintf("[%s]:%d %s", host, ports[i], h.sshd.PublicKey(f.h, "ed25519")))
		fmt.Fprintf(&hb, "      %s: {address: %s, port: %d, user: root%s}\n", h.name, host, ports[i], extra)
		fmt.Fprintf(&hosts, "root@%s\n", net.JoinHostPort(host, strconv.Itoa(ports[i])))
	}
	f.knownHosts = f.env.WriteKnownHosts(f.h, false, kh...)
	tok := filepath.Join(c.dir, "token")
	f.hostsFile = filepath.Join(c.dir, "hosts.txt")
	f.inventory = filepath.Join(c.dir, "inventory.yml")
	ca, err := os.ReadFile(f.cloud.CAFile)
	if err != nil {
		f.h.Fatal(err)
	}
	f.script = filepath.Join(c.dir, "claim.sh")
	inv := fmt.Sprintf("defaults:\n  identity_files: [%s]\n  known_hosts: [%s]\n  url: %s\n  ca_file: %s\n  token_file: %s\ngroups:\n  real:\n    rooms: [%s]\n    hosts:\n%s",
		f.env.Key, f.knownHosts, f.cloud.URL, f.cloud.CAFile, tok, realRoom, hb.String())
	for path, body := range map[string]string{
		tok:         realToken + "\n",
		f.hostsFile: hosts.String(),
		f.inventory: inv,
		f.script:    realFloorScript(f.gen, f.cloud.URL, string(ca)),
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			f.h.Fatal(err)
		}
	}
}

// realFloorScript is the floor's whole job on a real agent: the claim and
// what the node needs to come online, nothing else. v1: the CA and the
// token into cloud.d, Debian's netdata-claim.sh with -daemon-not-running
// (the agent is stopped), then a restart through the init script. v2:
// claim.conf, then `netdatacli reload-claiming-state`, or a start through
// the init script when the agent does not answer.
func realFloorScript(gen, url, ca string) string {
	var b strings.Builder
	if gen == "v1" {
		b.WriteString("set -e\nd=/var/lib/netdata/cloud.d\nmkdir -p $d\nchown netdata:netdata $d\nchmod 0770 $d\numask 077\n")
		fmt.Fprintf(&b, "cat > $d/cloud_fullchain.pem <<'EOF_CA'\n%sEOF_CA\n", ca)
		fmt.Fprintf(&b, "cat > $d/token <<'EOF_TOKEN'\n%s\nEOF_TOKEN\nchown netdata:netdata $d/token $d/cloud_fullchain.pem\n", realToken)
		fmt.Fprintf(&b, "/usr/sbin/netdata-claim.sh -rooms=%s -url=%s -user=netdata -daemon-not-running </dev/null\n", realRoom, url)
		b.WriteString("rm -f $d/token\n/etc/init.d/netdata restart >/dev/null\n")
		return b.String()
	}
	c := agenttest.V2Prefix + "/etc/netdata/claim.conf"
	fmt.Fprintf(&b, "set -e\numask 027\ncat > %s.tmp <<'EOF_CONF'\n[global]\n    url = %s\n    token = %s\n    rooms = %s\n    insecure = yes\nEOF_CONF\n", c, url, realToken, realRoom)
	fmt.Fprintf(&b, "chgrp netdata %s.tmp\nmv %s.tmp %s\n", c, c, c)
	fmt.Fprintf(&b, "%s/bin/netdatacli reload-claiming-state >/dev/null 2>&1 || /etc/init.d/netdata start >/dev/null\n", agenttest.V2Prefix)
	return b.String()
}

// reset un-claims every host outside the measurement: the agent stops, its
// claim files go, and a v2 agent starts again (a v1 agent stays stopped,
// as at the start).
func (f *realFleet) reset(ctx context.Context) error {
	began := time.Now()
	errs := f.each(func(i int) {
		a := f.hosts[i].agent
		a.Stop(f.h)
		os.RemoveAll(a.Lib("cloud.d"))
		os.Remove(a.Etc("claim.conf"))
		if f.gen == "v2" {
			a.Start(f.h)
			a.WaitReady(f.h)
		}
	})
	if len(errs) > 0 {
		return errs[0]
	}
	fmt.Printf("      (hosts reset in %s)\n", time.Since(began).Round(time.Millisecond))
	return nil
}

// accepted counts the claims the stand-in Cloud answered 204.
func (f *realFleet) accepted() int {
	n := 0
	for _, r := range f.cloud.Requests() {
		if r.Method == "PUT" && r.Status == 204 {
			n++
		}
	}
	return n
}

// running counts the hosts whose agent runs, waiting for at most
// runningWait (outside the measurement): an agent a tool has just started
// writes its pid file once it has forked.
func (f *realFleet) running(ctx context.Context) int {
	deadline := time.Now().Add(runningWait)
	for {
		n := 0
		for _, h := range f.hosts {
			if h.agent.PID() != 0 {
				n++
			}
		}
		if n == len(f.hosts) || !time.Now().Before(deadline) || ctx.Err() != nil {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningWait bounds the wait for the agents to run after a tool is done.
const runningWait = 30 * time.Second

func (f *realFleet) command(ctx context.Context, c *config, tool string, round int, debugFile string) (*exec.Cmd, string) {
	if tool == "floor" {
		self, _ := os.Executable()
		return exec.CommandContext(ctx, self, "floor", "--hosts", f.hostsFile, "--key", f.env.Key,
			"--known-hosts", f.knownHosts, "--script", f.script, "--forks", strconv.Itoa(c.forks)), ""
	}
	results := filepath.Join(c.dir, fmt.Sprintf("results-%s-%d.jsonl", tool, round))
	args := []string{"claim", "-i", f.inventory, "--no-progress", "--forks", strconv.Itoa(c.forks),
		"--results", results, "--wait", c.wait.String(), "-F", "none"}
	if debugFile != "" {
		args = append(args, "--debug-file", debugFile)
	}
	cmd := exec.CommandContext(ctx, c.fleetclaim, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(c.dir, "state"), "SSH_AUTH_SOCK=")
	if c.cpuProfile != "" {
		// One profile per run (FILE.ROUND, FILE.debug), for `go tool pprof`
		// to merge: one run of 25 hosts is a few dozen samples.
		cmd.Env = append(cmd.Env, "FLEETCLAIM_CPUPROFILE="+realProfile(c.cpuProfile, round, debugFile))
	}
	return cmd, results
}

// realProfile is the CPU profile file of one fleetclaim run of --real.
func realProfile(base string, round int, debugFile string) string {
	if debugFile != "" {
		return base + ".debug"
	}
	return base + "." + strconv.Itoa(round+1)
}

// measure runs one tool once: its process tree's wall, CPU and peak RSS,
// the load average before it, and that every host was claimed (the
// stand-in Cloud's answers) and its agent runs.
func (f *realFleet) measure(ctx context.Context, c *config, tool string, round int, debugFile string) run {
	r := run{tool: tool, round: round, load: loadAvg()}
	cmd, results := f.command(ctx, c, tool, round, debugFile)
	logPath := filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", tool, round))
	logFile, err := os.Create(logPath)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	before := f.accepted()
	began := time.Now()
	waitErr := cmd.Run()
	r.wall = time.Since(began)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss
	}
	r.results = results
	claimed := f.accepted() - before
	up := f.running(ctx)
	if results != "" {
		r.verdicts = verdicts(results)
	}
	var exit *exec.ExitError
	switch {
	case waitErr != nil && (results == "" || !errors.As(waitErr, &exit) || exit.ExitCode() != 1):
		log, _ := os.ReadFile(logPath)
		r.err = fmt.Sprintf("%v: %s", waitErr, clipTail(string(log), 2000))
	case claimed < c.hosts:
		r.err = fmt.Sprintf("the stand-in Cloud accepted %d claims for %d hosts", claimed, c.hosts)
	case up < c.hosts:
		r.err = fmt.Sprintf("%d of %d agents run after the claim", up, c.hosts)
	}
	return r
}

func clipTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// loadAvg is /proc/loadavg's 1-minute figure.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	fs := strings.Fields(string(b))
	if len(fs) == 0 {
		return "?"
	}
	return fs[0]
}

func printRealRun(c *config, r run) {
	status := "ok"
	if r.err != "" {
		status = "FAILED: " + r.err
	}
	fmt.Printf("run %d %-10s wall %7.2fs  cpu %7.3fs = %6.2f ms/host  peak RSS %6.1f MB  load %s  %s%s\n",
		r.round+1, r.tool, r.wall.Seconds(), r.cpu.Seconds(), perHost(c, r.cpu), float64(r.maxRSS)/1024, r.load, status, r.verdicts)
	if r.results != "" {
		if s := stepSummary(r.results); s != "" {
			fmt.Printf("      steps (median [max] ms per host): %s\n", s)
		}
	}
}

// verdicts counts fleetclaim's records by status and category: a v1 host
// claims and restarts, but Debian's build, without Cloud, then reports
// itself not claimed, which fleetclaim says (exit 1).
func verdicts(results string) string {
	b, err := os.ReadFile(results)
	if err != nil {
		return ""
	}
	n := map[string]int{}
	for l := range strings.Lines(string(b)) {
		var rec struct{ Status, Category, Message string }
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		k := rec.Status
		if rec.Category != "" {
			k += " " + rec.Category + " (" + clipTail(rec.Message, 60) + ")"
		}
		n[k]++
	}
	keys := slices.Sorted(maps.Keys(n))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	return "  fleetclaim says: " + strings.Join(parts, ", ")
}

// stepSummary reads fleetclaim's results: each step's median and largest
// time across the hosts, in the order of the first host's steps.
func stepSummary(results string) string {
	fh, err := os.Open(results)
	if err != nil {
		return ""
	}
	defer fh.Close()
	by := map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Steps []struct {
				Name string `json:"name"`
				MS   int64  `json:"ms"`
			} `json:"steps"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		for _, s := range rec.Steps {
			if _, ok := by[s.Name]; !ok {
				order = append(order, s.Name)
			}
			by[s.Name] = append(by[s.Name], float64(s.MS))
		}
	}
	var parts []string
	for _, n := range order {
		m, _, hi := median(by[n])
		parts = append(parts, fmt.Sprintf("%s %.0f [%.0f]", n, m, hi))
	}
	return strings.Join(parts, ", ")
}

// debugBreakdown runs fleetclaim once more with --debug-file and prints,
// per remote command, how long it took across the hosts (median, max) and
// how many each host ran: where each host's time goes.
func (f *realFleet) debugBreakdown(ctx context.Context, c *config) {
	file := filepath.Join(c.dir, "debug.log")
	r := f.measure(ctx, c, "fleetclaim", c.runs, file)
	r.tool = "fleetclaim --debug"
	printRealRun(c, r)
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Printf("no debug log: %v\n", err)
		return
	}
	if c.keepDebug != "" {
		_ = os.WriteFile(c.keepDebug, b, 0o600)
	}
	fmt.Printf("\nremote commands (from --debug, %d hosts):\n", c.hosts)
	for _, l := range debugTimings(string(b), c.hosts) {
		fmt.Println("  " + l)
	}
}

// debugLine is a line of fleetclaim's --debug trace: "debug +T HOST:
// TEXT". A command's line names it; its "exit N in D" line follows;
// "connected in D" and "forward ... opened in D" time themselves.
var (
	debugLine   = regexp.MustCompile(`^debug \+[0-9.]+s (\S+): (.*)$`)
	debugExit   = regexp.MustCompile(`^\s*exit -?\d+ in (\S+)`)
	debugFailed = regexp.MustCompile(`^(.*?) failed after ([0-9.]+(?:µs|ms|s|m))\b`)
	debugTimed  = regexp.MustCompile(`^(.*) in ([0-9.]+(?:µs|ms|s|m))\b`)
)

// debugTimings groups the timed steps of a --debug trace by what they did
// (addresses, ports and quoted arguments blanked; a script keeps its
// length, which tells the probe from the claim): how many each host ran, their
// median and largest duration, and the lines per host (each an exchange
// with the host: a round trip or more).
func debugTimings(trace string, hosts int) []string {
	by := map[string][]float64{}
	last := map[string]string{}
	lines := 0
	for l := range strings.Lines(trace) {
		m := debugLine.FindStringSubmatch(strings.TrimRight(l, "\n"))
		if m == nil {
			continue
		}
		lines++
		host, text := m[1], m[2]
		k, dur := "", ""
		if e := debugExit.FindStringSubmatch(text); e != nil {
			k, dur = last[host], e[1]
		} else if t := debugFailed.FindStringSubmatch(text); t != nil {
			k, dur = normalizeDebug(t[1])+" failed", t[2]
		} else if t := debugTimed.FindStringSubmatch(text); t != nil {
			k, dur = normalizeDebug(t[1]), t[2]
		} else {
			cmd, _, _ := strings.Cut(text, ", args")
			last[host] = normalizeDebug(cmd)
			continue
		}
		d, err := time.ParseDuration(dur)
		if err != nil {
			continue
		}
		by[k] = append(by[k], float64(d)/float64(time.Millisecond))
	}
	keys := slices.Sorted(maps.Keys(by))
	var out []string
	for _, k := range keys {
		m, _, hi := median(by[k])
		out = append(out, fmt.Sprintf("%5.2f/host  median %8.1f ms  max %8.1f ms  %s", float64(len(by[k]))/float64(hosts), m, hi, k))
	}
	out = append(out, fmt.Sprintf("%.1f trace lines per host", float64(lines)/float64(hosts)))
	return out
}

var (
	debugQuoted = regexp.MustCompile(`'[^']*'|"[^"]*"|\[[^]]*\]`)
	debugNumber = regexp.MustCompile(`\b[0-9]+[.:][0-9a-f.:-]*\b|\b[0-9]{5,}\b`)
)

func normalizeDebug(s string) string {
	if strings.HasPrefix(s, "run ") {
		// A command run on its own: its text is what it did.
		s = debugNumber.ReplaceAllString(s, "N")
		if len(s) > 110 {
			s = s[:110] + "…"
		}
		return s
	}
	s = debugQuoted.ReplaceAllString(s, "…")
	s = debugNumber.ReplaceAllString(s, "N")
	if len(s) > 110 {
		s = s[:110] + "…"
	}
	return s
}

// debugTimingsMain prints debugTimings of a saved --debug trace.
func debugTimingsMain(file, hosts string) int {
	n, err := strconv.Atoi(hosts)
	if err != nil || n <= 0 {
		return fatalf("debug-timings FILE HOSTS: HOSTS is a positive number")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fatalf("%v", err)
	}
	for _, l := range debugTimings(string(b), n) {
		fmt.Println(l)
	}
	return 0
}
