package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"flag"
	"fmt"
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

	"github.com/fleetclaim/fleetclaim/lab"
	"github.com/fleetclaim/fleetclaim/remote"
	"golang.org/x/sys/unix"
)

//go:embed testdata/claim.yml
var playbook []byte

type config struct {
	fleetclaim, dir, method string
	fleetlab                string
	tools                   []string
	hosts, runs, forks      int
	sshd, keep              bool
	cpuProfile, memProfile  string
	labCPUProfile           string
	wait                    time.Duration
	// rtt, with sshd, is the round-trip time a delaying proxy in front of
	// every sshd adds between the tools and the hosts (a fleet across a
	// network; the hosts' own forwards and the Cloud are not delayed).
	rtt time.Duration
	// real, when set (v1 or v2), runs real agents behind real sshd
	// (real.go) instead of the lab; debugRun adds one fleetclaim run with
	// --debug-file for the per-command breakdown, kept in keepDebug.
	real      string
	debugRun  bool
	keepDebug string
}

// fleet is what every tool needs to reach the hosts.
type fleet struct {
	info       *lab.Info
	targets    []target
	knownHosts string
	inventory  string // fleetclaim's inventory
	// noAPIInventory is the same without the Cloud API (room ids instead
	// of names, no api_token_file): no Cloud-side proof.
	noAPIInventory string
	pssh           string // USER@ADDR:PORT lines (pssh and the floor)
	ansibleInv     string
	script         string // the claim script, on stdin of `sh -s`
	sshds          []*exec.Cmd
	method         string
}

type target struct {
	name, prefix string
	port         int
}

// run is one tool's run.
type run struct {
	tool, err       string
	round           int
	wall, cpu       time.Duration
	maxRSS          int64 // KiB
	rss             []rssSample
	labSelf, labKid time.Duration
	stats           lab.Stats
	load            string // --real: the 1-minute load average before the run
	results         string // --real: fleetclaim's results file
	verdicts        string // --real: fleetclaim's records by status
}

type rssSample struct {
	done int   // hosts finished (fleetclaim: lines in the results file)
	kib  int64 // VmRSS
}

func benchMain(ctx context.Context, args []string) int {
	c, code := parseFlags(args)
	if c == nil {
		return code
	}
	if c.real != "" {
		return realMain(ctx, c)
	}
	return labMain(ctx, c)
}

// parseFlags reads fleetbench's flags into a config; nil and the exit code
// when they are wrong.
func parseFlags(args []string) (*config, int) {
	fs := flag.NewFlagSet("fleetbench", flag.ContinueOnError)
	c := &config{}
	fs.StringVar(&c.fleetclaim, "fleetclaim", "bin/fleetclaim", "the fleetclaim binary")
	fs.StringVar(&c.fleetlab, "fleetlab", "", "the fleetlab binary, which runs the lab (default: fleetlab next to --fleetclaim)")
	fs.IntVar(&c.hosts, "hosts", 200, "lab hosts")
	fs.IntVar(&c.runs, "runs", 3, "rounds: every tool runs once per round, in a rotating order")
	fs.IntVar(&c.forks, "forks", 50, "hosts in flight for every tool")
	tools := fs.String("tools", "fleetclaim,floor,pssh,ansible", "tools to run: fleetclaim, fleetclaim-noapi (no Cloud API: the agent's word only), floor, pssh, ansible")
	fs.StringVar(&c.method, "method", "v2", "claim method of the hosts: v2 (claim.conf + reload) or v1 (netdata-claim.sh)")
	fs.BoolVar(&c.sshd, "sshd", false, "put a real OpenSSH sshd (root, one per host) in front of every lab host")
	fs.StringVar(&c.dir, "dir", "", "work directory (default: a new temporary one, removed at the end)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory and leave the lab running")
	fs.DurationVar(&c.wait, "wait", time.Minute, "fleetclaim --wait")
	fs.DurationVar(&c.rtt, "rtt", 0, "with --sshd or --real: the round-trip time a delaying proxy adds between every tool and every host")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "FILE: fleetclaim's CPU profile of its last run (FLEETCLAIM_CPUPROFILE; with --real, FILE.ROUND of each run)")
	fs.StringVar(&c.memProfile, "memprofile", "", "FILE: fleetclaim's allocation profile of its last run (FLEETCLAIM_MEMPROFILE)")
	fs.StringVar(&c.labCPUProfile, "lab-cpuprofile", "", "FILE: the lab process's CPU profile")
	fs.StringVar(&c.real, "real", "", "v1 or v2: real agents (Debian's 1.37.1, or v2.11.0 of ../shared/netdata-v2), each behind its own real sshd, instead of the lab (tools: fleetclaim, floor)")
	fs.BoolVar(&c.debugRun, "debug-run", true, "with --real: one more fleetclaim run with --debug-file, for the time per remote command")
	fs.StringVar(&c.keepDebug, "keep-debug", "", "with --real: FILE to keep that run's --debug trace in")
	if err := fs.Parse(args); err != nil {
		return nil, 2
	}
	if c.real != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["tools"] {
			*tools = "fleetclaim,floor"
		}
		if !set["wait"] {
			c.wait = 0
		}
	}
	if err := c.check(*tools); err != nil {
		return nil, fatalf("%v", err)
	}
	return c, 0
}

// check reads the list of tools and checks the flags that go together.
func (c *config) check(tools string) error {
	for t := range strings.SplitSeq(tools, ",") {
		switch t {
		case "fleetclaim", "fleetclaim-noapi", "floor", "pssh", "ansible":
			c.tools = append(c.tools, t)
		default:
			return fmt.Errorf("unknown tool %q", t)
		}
	}
	if c.method != "v1" && c.method != "v2" {
		return errors.New("--method: v1 or v2")
	}
	if c.rtt < 0 || (c.rtt > 0 && !c.sshd && c.real == "") {
		return errors.New("--rtt: a positive duration, with --sshd or --real")
	}
	if c.real != "" && c.real != "v1" && c.real != "v2" {
		return errors.New("--real: v1 or v2")
	}
	var err error
	c.fleetclaim, err = filepath.Abs(c.fleetclaim)
	return err
}

// labMain runs the tools against the lab, round after round.
func labMain(ctx context.Context, c *config) int {
	if c.fleetlab == "" {
		c.fleetlab = filepath.Join(filepath.Dir(c.fleetclaim), "fleetlab")
	}
	var err error
	if c.fleetlab, err = filepath.Abs(c.fleetlab); err != nil {
		return fatalf("%v", err)
	}
	// A run that failed keeps the work directory: its log is what says why.
	failed := false
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "fleetbench."); err != nil {
			return fatalf("%v", err)
		}
		if !c.keep {
			defer func() { removeWorkDir(c.dir, failed) }()
		}
	}
	printMachine(c)
	f, err := setup(ctx, c)
	if f != nil && !c.keep {
		defer f.close(c)
	}
	if err != nil {
		return fatalf("%v", err)
	}
	// Orphans of a tool (OpenSSH ControlPersist masters that Ansible leaves
	// behind) become our children, so their CPU is counted too.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	runs, code := labRounds(ctx, c, f)
	failed = code != 0
	if runs != nil {
		summarize(c, runs)
	}
	return code
}

// removeWorkDir removes the work directory, unless a run failed.
func removeWorkDir(dir string, failed bool) {
	if failed {
		fmt.Printf("work directory kept for the failed runs' logs: %s\n", dir)
		return
	}
	os.RemoveAll(dir)
}

// labRounds runs every tool once per round, in a rotating order, the
// hosts reset between runs; nil runs when the rounds could not go on.
func labRounds(ctx context.Context, c *config, f *fleet) ([]run, int) {
	var runs []run
	code := 0
	for round := range c.runs {
		for i := range c.tools {
			tool := c.tools[(i+round)%len(c.tools)]
			if ctx.Err() != nil {
				return nil, 1
			}
			if len(runs) > 0 {
				if err := f.reset(ctx); err != nil {
					return nil, fatalf("reset the hosts: %v", err)
				}
			}
			r := measure(ctx, c, f, tool, round, round == c.runs-1)
			printRun(c, r)
			if r.err != "" {
				code = 1
			}
			runs = append(runs, r)
		}
	}
	return runs, code
}

func printMachine(c *config) {
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(data), "\n"); ok {
			mem = strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	ver, _ := exec.Command(c.fleetclaim, "--version").Output()
	mode := "lab SSH server"
	if c.sshd {
		mode = "OpenSSH sshd in front of each lab host"
	}
	fmt.Printf("machine: %d CPUs (%s), %s memory, %s\n", cpuCount(), cpu, mem, goVersion())
	fmt.Printf("fleet:   %d hosts, %s, method %s, forks %d, %d rounds of %s\n", c.hosts, mode, c.method, c.forks, c.runs, strings.Join(c.tools, ","))
	if c.rtt > 0 {
		fmt.Printf("network: %s round trip between the tools and every host (a delaying proxy in front of each sshd)\n", c.rtt)
	}
	if len(ver) > 0 {
		fmt.Printf("binary:  %s (%s)\n", c.fleetclaim, strings.TrimSpace(string(ver)))
	}
}

func cpuCount() int {
	var s unix.CPUSet
	if unix.SchedGetaffinity(0, &s) == nil {
		return s.Count()
	}
	return 0
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return "go ?"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
}

// setup starts the lab (and the sshd fronts) and writes every tool's inputs.
func setup(ctx context.Context, c *config) (*fleet, error) {
	labDir := filepath.Join(c.dir, "lab")
	args := []string{"up", "--hosts", strconv.Itoa(c.hosts), "--dir", labDir}
	if c.method == "v1" {
		args = append(args, "--personalities", "v1="+strconv.Itoa(c.hosts))
	}
	if c.labCPUProfile != "" {
		p, _ := filepath.Abs(c.labCPUProfile)
		args = append(args, "--cpuprofile", p)
	}
	if c.sshd {
		// Behind a real sshd a forward reaches this machine's real ports:
		// each agent listens on one of its own, named in its netdata.conf,
		// so fleetclaim asks the agent's API as it would a real agent's.
		args = append(args, "--tcp-web")
	}
	began := time.Now()
	if out, err := exec.CommandContext(ctx, c.fleetlab, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("fleetlab up: %v\n%s", err, out)
	}
	fmt.Printf("lab:     up in %s\n", time.Since(began).Round(time.Millisecond))
	info, err := lab.ReadInfo(labDir)
	if err != nil {
		return nil, err
	}
	f := &fleet{info: info, knownHosts: info.KnownHosts(), inventory: info.Inventory(), method: c.method}
	for _, h := range info.Hosts {
		f.targets = append(f.targets, target{name: h.Name, prefix: h.Prefix, port: h.Port})
	}
	if c.sshd {
		if err := f.startSSHD(ctx, c); err != nil {
			return f, err
		}
	}
	if err := f.writeNoAPIInventory(c); err != nil {
		return f, err
	}
	token, err := info.Token()
	if err != nil {
		return f, err
	}
	ca, err := os.ReadFile(info.CAFile())
	if err != nil {
		return f, err
	}
	room := info.Rooms[0].ID
	f.script = claimScript(c.method, info.CloudURL, token, room, string(ca))
	var hosts, inv strings.Builder
	fmt.Fprintf(&inv, "[fleet]\n")
	for _, t := range f.targets {
		fmt.Fprintf(&hosts, "root@127.0.0.1:%d\n", t.port)
		fmt.Fprintf(&inv, "%s ansible_host=127.0.0.1 ansible_port=%d prefix=%s\n", t.name, t.port, t.prefix)
	}
	fmt.Fprintf(&inv, "\n[fleet:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n")
	fmt.Fprintf(&inv, "ansible_ssh_private_key_file=%s\n", info.IdentityFile())
	fmt.Fprintf(&inv, "ansible_ssh_common_args='-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes'\n", f.knownHosts)
	fmt.Fprintf(&inv, "claim_method=%s\nclaim_url=%s\nclaim_room=%s\ntoken_file=%s\nca_file=%s\nprobe_sh=%s\n",
		c.method, info.CloudURL, room, info.TokenFile(), info.CAFile(), filepath.Join(c.dir, "probe.sh"))
	files := map[string]string{
		"hosts.txt":   hosts.String(),
		"claim.sh":    f.script,
		"fleet.ini":   inv.String(),
		"claim.yml":   string(playbook),
		"probe.sh":    remote.ProbeScript(),
		"ansible.cfg": "[defaults]\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o600); err != nil {
			return f, err
		}
	}
	f.pssh = filepath.Join(c.dir, "hosts.txt")
	f.ansibleInv = filepath.Join(c.dir, "fleet.ini")
	return f, nil
}

// writeNoAPIInventory writes fleetclaim's inventory without the Cloud API:
// each group's rooms by id (the lab writes them in a comment after the
// names), no space or api_token_file.
func (f *fleet) writeNoAPIInventory(c *config) error {
	data, err := os.ReadFile(f.inventory)
	if err != nil {
		return err
	}
	rooms := regexp.MustCompile(`(?m)^(\s*rooms: )\[.*\]\s*#\s*(.*)$`)
	var out strings.Builder
	for line := range strings.Lines(string(data)) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "api_token_file:") || strings.HasPrefix(t, "space:") {
			continue
		}
		if m := rooms.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			line = m[1] + "[" + m[2] + "]\n"
		}
		out.WriteString(line)
	}
	f.noAPIInventory = filepath.Join(c.dir, "inventory-noapi.yml")
	return os.WriteFile(f.noAPIInventory, []byte(out.String()), 0o600)
}

// claimScript is what pssh, the floor and nothing else run on each host:
// the claim itself, with the token on stdin (never on a command line).
func claimScript(method, url, token, room, ca string) string {
	var b strings.Builder
	b.WriteString("set -e\ncd \"${FC_PREFIX:-$HOME}\"\nd=opt/netdata/var/lib/netdata/cloud.d\nmkdir -p $d\n")
	fmt.Fprintf(&b, "cat > $d/cloud_fullchain.pem <<'EOF_CA'\n%sEOF_CA\numask 077\n", ca)
	if method == "v1" {
		fmt.Fprintf(&b, "cat > $d/token <<'EOF_TOKEN'\n%s\nEOF_TOKEN\n", token)
		fmt.Fprintf(&b, "opt/netdata/bin/netdata-claim.sh -rooms=%s -url=%s </dev/null\nrm -f $d/token\n", room, url)
		return b.String()
	}
	fmt.Fprintf(&b, "cat > opt/netdata/etc/netdata/claim.conf.tmp <<'EOF_CONF'\n[global]\n    url = %s\n    token = %s\n    rooms = %s\nEOF_CONF\n", url, token, room)
	b.WriteString("mv opt/netdata/etc/netdata/claim.conf.tmp opt/netdata/etc/netdata/claim.conf\nopt/netdata/bin/netdatacli reload-claiming-state\n")
	return b.String()
}

// reset un-claims every host between runs, outside the measurement, so
// that each tool does the same whole claim: the claim files go and the
// agent restarts (a running agent keeps a claim it holds in memory).
func (f *fleet) reset(ctx context.Context) error {
	began := time.Now()
	work := make(chan target)
	errs := make(chan error, len(f.targets))
	var wg sync.WaitGroup
	for range 2 * cpuCount() {
		wg.Go(func() {
			for t := range work {
				nd := filepath.Join(t.prefix, "opt/netdata")
				for _, p := range []string{"etc/netdata/claim.conf", "var/lib/netdata/cloud.d/claimed_id", "var/lib/netdata/cloud.d/cloud.conf", "var/lib/netdata/cloud.d/token"} {
					_ = os.Remove(filepath.Join(nd, p))
				}
				// A v1 node's id is its machine GUID, and the lab Cloud (like
				// Netdata Cloud) refuses a node id it already holds: give the
				// host a new GUID, as a re-imaged machine would have.
				if f.method == "v1" {
					if err := os.WriteFile(filepath.Join(nd, "var/lib/netdata/registry/netdata.public.unique.id"), []byte(newUUID()+"\n"), 0o644); err != nil {
						errs <- err
					}
				}
				if out, err := exec.CommandContext(ctx, filepath.Join(t.prefix, "etc/init.d/netdata"), "restart").CombinedOutput(); err != nil {
					errs <- fmt.Errorf("%s: restart: %v: %s", t.name, err, out)
				}
			}
		})
	}
	for _, t := range f.targets {
		work <- t
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("      (hosts reset in %s)\n", time.Since(began).Round(time.Millisecond))
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (f *fleet) close(c *config) {
	for _, s := range f.sshds {
		_ = s.Process.Signal(syscall.SIGTERM)
		_ = s.Wait()
	}
	_ = exec.Command(c.fleetlab, "down", "--dir", f.info.Dir).Run()
}

// command builds one tool's command line.
func command(ctx context.Context, c *config, f *fleet, tool string, round int, profile bool) (*exec.Cmd, string) {
	var cmd *exec.Cmd
	results := ""
	switch tool {
	case "fleetclaim", "fleetclaim-noapi":
		results = filepath.Join(c.dir, fmt.Sprintf("results-%s-%d.jsonl", tool, round))
		inv := f.inventory
		if tool == "fleetclaim-noapi" {
			inv = f.noAPIInventory
		}
		cmd = exec.CommandContext(ctx, c.fleetclaim, "claim", "-i", inv, "--force", "--no-progress",
			"--forks", strconv.Itoa(c.forks), "--results", results, "--wait", c.wait.String())
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(c.dir, "state"), "SSH_AUTH_SOCK=")
		if profile && c.cpuProfile != "" {
			p, _ := filepath.Abs(c.cpuProfile)
			cmd.Env = append(cmd.Env, "FLEETCLAIM_CPUPROFILE="+p)
		}
		if profile && c.memProfile != "" {
			p, _ := filepath.Abs(c.memProfile)
			cmd.Env = append(cmd.Env, "FLEETCLAIM_MEMPROFILE="+p)
		}
		if c.sshd {
			cmd.Args = append(cmd.Args, "-F", "none")
		}
	case "floor":
		self, _ := os.Executable()
		cmd = exec.CommandContext(ctx, self, "floor", "--hosts", f.pssh, "--key", f.info.IdentityFile(),
			"--known-hosts", f.knownHosts, "--script", filepath.Join(c.dir, "claim.sh"), "--forks", strconv.Itoa(c.forks))
	case "pssh":
		cmd = exec.CommandContext(ctx, "parallel-ssh", "-h", f.pssh, "-p", strconv.Itoa(c.forks), "-t", "0", "-I",
			"-x", fmt.Sprintf("-F /dev/null -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes", f.info.IdentityFile(), f.knownHosts),
			"sh", "-s")
		script, _ := os.Open(filepath.Join(c.dir, "claim.sh"))
		cmd.Stdin = script
	case "ansible":
		cmd = exec.CommandContext(ctx, "ansible-playbook", "-i", f.ansibleInv, "-f", strconv.Itoa(c.forks), filepath.Join(c.dir, "claim.yml"))
		cmd.Env = append(os.Environ(),
			"ANSIBLE_HOST_KEY_CHECKING=True", "ANSIBLE_PIPELINING=True", "ANSIBLE_NOCOLOR=1",
			"ANSIBLE_RETRY_FILES_ENABLED=False", "ANSIBLE_LOCAL_TEMP="+filepath.Join(c.dir, "ansible-tmp"),
			"ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(c.dir, "cp"), "ANSIBLE_CONFIG="+filepath.Join(c.dir, "ansible.cfg"),
			"ANSIBLE_DEPRECATION_WARNINGS=False", "SSH_AUTH_SOCK=")
	}
	return cmd, results
}

// measure runs one tool once and accounts for its process tree only.
func measure(ctx context.Context, c *config, f *fleet, tool string, round int, profile bool) run {
	r := run{tool: tool, round: round}
	cmd, results := command(ctx, c, f, tool, round, profile)
	logPath := filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", tool, round))
	logFile, err := os.Create(logPath)
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	st0, _ := f.info.Stats(ctx)
	self0, kid0 := procCPU(f.info.PID)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		r.err = err.Error()
		return r
	}
	stop := make(chan struct{})
	sampled := make(chan []rssSample, 1)
	go func() { sampled <- sampleRSS(cmd.Process.Pid, results, stop) }()
	waitErr := cmd.Wait()
	r.wall = time.Since(began)
	close(stop)
	r.rss = <-sampled
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru != nil {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss
	}
	// Orphans the tool left behind (ControlPersist masters) were re-parented
	// to us: end them and count their CPU as the tool's.
	r.cpu += reapOrphans(f)
	self1, kid1 := procCPU(f.info.PID)
	st1, _ := f.info.Stats(ctx)
	r.labSelf, r.labKid = self1-self0, kid1-kid0
	r.stats = diffStats(st1, st0)
	if waitErr != nil {
		r.err = fmt.Sprintf("%v (see %s)", waitErr, logPath)
	} else if int(r.stats.ClaimRequests) < c.hosts {
		r.err = fmt.Sprintf("the lab Cloud saw %d claims for %d hosts (see %s)", r.stats.ClaimRequests, c.hosts, logPath)
	}
	return r
}

// sampleRSS reads the process's VmRSS every 100 ms, with how many hosts had
// finished (lines in fleetclaim's results file) at that moment.
func sampleRSS(pid int, results string, stop <-chan struct{}) []rssSample {
	var out []rssSample
	var rf *os.File
	done := 0
	buf := make([]byte, 64<<10)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			if rf != nil {
				rf.Close()
			}
			return out
		case <-t.C:
		}
		if rf == nil && results != "" {
			rf, _ = os.Open(results)
		}
		if rf != nil {
			for {
				n, err := rf.Read(buf)
				done += bytes.Count(buf[:n], []byte{'\n'})
				if err != nil || n == 0 {
					break
				}
			}
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for l := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kib, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				out = append(out, rssSample{done: done, kib: kib})
			}
		}
	}
}

// reapOrphans ends the processes re-parented to us that are not the sshd
// fronts, waits for them and returns their CPU.
func reapOrphans(f *fleet) time.Duration {
	keep := map[int]bool{}
	for _, s := range f.sshds {
		keep[s.Process.Pid] = true
	}
	me := os.Getpid()
	var total time.Duration
	for range 3 {
		pids := childrenOf(me)
		var orphans []int
		for _, p := range pids {
			if !keep[p] {
				orphans = append(orphans, p)
			}
		}
		if len(orphans) == 0 {
			break
		}
		for _, p := range orphans {
			_ = syscall.Kill(p, syscall.SIGTERM)
		}
		for _, p := range orphans {
			var ws syscall.WaitStatus
			var ru syscall.Rusage
			if _, err := syscall.Wait4(p, &ws, 0, &ru); err == nil {
				total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
		}
	}
	return total
}

func childrenOf(ppid int) []int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", ppid, ppid))
	var out []int
	if err == nil {
		for p := range strings.FieldsSeq(string(data)) {
			if n, err := strconv.Atoi(p); err == nil {
				out = append(out, n)
			}
		}
		// Threads other than the main one may have children too.
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", ppid))
	for _, t := range tasks {
		if t.Name() == strconv.Itoa(ppid) {
			continue
		}
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", ppid, t.Name()))
		for p := range strings.FieldsSeq(string(data)) {
			if n, err := strconv.Atoi(p); err == nil && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// procCPU is a process's own CPU and that of its reaped children (the lab:
// the shells and helpers its hosts ran).
func procCPU(pid int) (self, children time.Duration) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(fields[i], 10, 64)
		return time.Duration(v) * 10 * time.Millisecond // USER_HZ = 100
	}
	return tick(11) + tick(12), tick(13) + tick(14)
}

func diffStats(a, b lab.Stats) lab.Stats {
	return lab.Stats{Connections: a.Connections - b.Connections, Handshakes: a.Handshakes - b.Handshakes,
		AuthFailures: a.AuthFailures - b.AuthFailures, Sessions: a.Sessions - b.Sessions, Execs: a.Execs - b.Execs,
		SFTP: a.SFTP - b.SFTP, Forwards: a.Forwards - b.Forwards, WebConns: a.WebConns - b.WebConns, CtlRequests: a.CtlRequests - b.CtlRequests,
		ClaimRequests: a.ClaimRequests - b.ClaimRequests}
}

func perHost(c *config, d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond) / float64(c.hosts)
}

func printRun(c *config, r run) {
	n := float64(c.hosts)
	s := r.stats
	status := "ok"
	if r.err != "" {
		status = "FAILED: " + r.err
	}
	fmt.Printf("run %d %-10s wall %7.2fs  %7.1f hosts/s  cpu %7.2fs = %6.2f ms/host  peak RSS %6.1f MB  | lab: conns %.2f handshakes %.2f sessions %.2f execs %.2f sftp %.2f forwards %.2f web %.2f claims %.2f per host; lab CPU %.2f ms/host, host shells %.2f ms/host  %s\n",
		r.round+1, r.tool, r.wall.Seconds(), n/r.wall.Seconds(), r.cpu.Seconds(), perHost(c, r.cpu), float64(r.maxRSS)/1024,
		float64(s.Connections)/n, float64(s.Handshakes)/n, float64(s.Sessions)/n, float64(s.Execs)/n, float64(s.SFTP)/n,
		float64(s.Forwards)/n, float64(s.WebConns)/n, float64(s.ClaimRequests)/n, perHost(c, r.labSelf), perHost(c, r.labKid), status)
	if strings.HasPrefix(r.tool, "fleetclaim") && len(r.rss) > 0 {
		fmt.Printf("      %s RSS by hosts finished:", r.tool)
		for _, pct := range []int{10, 25, 50, 75, 90, 100} {
			want := c.hosts * pct / 100
			for _, smp := range r.rss {
				if smp.done >= want {
					fmt.Printf("  %d%%: %.1f MB", pct, float64(smp.kib)/1024)
					break
				}
			}
		}
		fmt.Println()
	}
}

func median(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m, s[0], s[len(s)-1]
}

func summarize(c *config, runs []run) {
	fmt.Printf("\nsummary over %d rounds (median [min–max]):\n", c.runs)
	byTool := map[string][]run{}
	for _, r := range runs {
		if r.err == "" {
			byTool[r.tool] = append(byTool[r.tool], r)
		}
	}
	field := func(rs []run, get func(run) float64) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, get(r))
		}
		return out
	}
	for _, tool := range c.tools {
		rs := byTool[tool]
		if len(rs) == 0 {
			fmt.Printf("  %-10s no successful run\n", tool)
			continue
		}
		w, wl, wh := median(field(rs, func(r run) float64 { return r.wall.Seconds() }))
		cp, cl, ch := median(field(rs, func(r run) float64 { return perHost(c, r.cpu) }))
		m, ml, mh := median(field(rs, func(r run) float64 { return float64(r.maxRSS) / 1024 }))
		ls, _, _ := median(field(rs, func(r run) float64 { return perHost(c, r.labSelf) }))
		if c.real != "" {
			fmt.Printf("  %-10s wall %.2fs [%.2f–%.2f]  cpu %.2f ms/host [%.2f–%.2f]  peak RSS %.1f MB [%.1f–%.1f]\n",
				tool, w, wl, wh, cp, cl, ch, m, ml, mh)
			continue
		}
		fmt.Printf("  %-10s wall %.2fs [%.2f–%.2f]  %.0f hosts/s  cpu %.2f ms/host [%.2f–%.2f]  peak RSS %.1f MB [%.1f–%.1f]  lab CPU %.2f ms/host\n",
			tool, w, wl, wh, float64(c.hosts)/w, cp, cl, ch, m, ml, mh, ls)
	}
	// Ratios per round (the tools of one round ran back to back), then the
	// median ratio.
	for _, base := range c.tools {
		if strings.HasPrefix(base, "fleetclaim") {
			ratios(c, byTool, base)
		}
	}
}

func ratios(c *config, byTool map[string][]run, base string) {
	fc := map[int]run{}
	for _, r := range byTool[base] {
		fc[r.round] = r
	}
	if len(fc) == 0 {
		return
	}
	fmt.Printf("\n%s / tool, per round then median [min–max]:\n", base)
	for _, tool := range c.tools {
		if strings.HasPrefix(tool, "fleetclaim") {
			continue
		}
		var wr, cr []float64
		for _, r := range byTool[tool] {
			if f, ok := fc[r.round]; ok {
				wr = append(wr, f.wall.Seconds()/r.wall.Seconds())
				cr = append(cr, f.cpu.Seconds()/r.cpu.Seconds())
			}
		}
		if len(wr) == 0 {
			continue
		}
		w, wl, wh := median(wr)
		cp, cl, ch := median(cr)
		fmt.Printf("  vs %-8s wall %.2f [%.2f–%.2f]  cpu %.3f [%.3f–%.3f]\n", tool, w, wl, wh, cp, cl, ch)
	}
}
