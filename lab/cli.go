package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

const usage = `usage: fleetlab COMMAND [options]

commands:
  up     --hosts N --dir DIR [--seed S] [--personalities SPEC] [--timeout D]
         [--tcp-web]
         start a lab in the background and wait until it is ready
         (--tcp-web: every agent also serves its web API on a TCP port of
         its own on 127.0.0.1, named in its netdata.conf, for a real sshd
         in front of the host to forward to)
  down   --dir DIR      stop the lab running in DIR
  status --dir DIR      say whether a lab runs in DIR (exit 0 running, 3 not)
  claims --dir DIR [--count|--json] [--all]
                        what the lab Cloud accepted (--all: with replaced claims)
  stats  --dir DIR      what the lab served (connections, sessions, execs, ...) as JSON
  serve  --hosts N --dir DIR ...   run the lab in the foreground (what "up" starts)

personality spec: comma-separated KIND[:VERSION][+FAULT...][+cloned]=COUNT, e.g.
  v1=2,nocloud=1,none=1,v2+cloud-503=3     (other hosts are healthy v2 agents)
  kinds: v2, v1, nocloud, distro (native layout, no Cloud), docker (agent in a
  container behind a docker stand-in), none (DIR/kickstart.sh installs one);
  +cloned: the entry's hosts share one machine GUID
`

// Main runs `fleetlab ARGS...` and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Host-side helpers come first and parse nothing else: they run once per
	// netdatacli or init-script call on a lab host, so they must stay cheap.
	if len(args) > 0 {
		switch args[0] {
		case "netdatacli", "service", "claim-v1", "kickstart":
			return runHelper(ctx, args[0], args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "up":
		return cmdUp(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stderr)
	case "down":
		return cmdDown(ctx, args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "claims":
		return cmdClaims(ctx, args[1:], stdout, stderr)
	case "stats":
		return cmdStats(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fleetlab: unknown command %q\n%s", args[0], usage)
	return 2
}

type upFlags struct {
	dir, seed, personalities string
	cpuProfile               string
	hosts                    int
	tcpWeb                   bool
	timeout                  time.Duration
}

func parseUpFlags(name string, args []string, stderr io.Writer) (*upFlags, error) {
	fs := flag.NewFlagSet("fleetlab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &upFlags{}
	fs.IntVar(&f.hosts, "hosts", 20, "number of SSH hosts")
	fs.StringVar(&f.dir, "dir", "", "lab directory (required)")
	fs.StringVar(&f.seed, "seed", "", "seed for a reproducible new lab")
	fs.StringVar(&f.personalities, "personalities", "", "host personalities, e.g. v1=2,nocloud=1")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write the lab process's CPU profile to this file (serve)")
	fs.BoolVar(&f.tcpWeb, "tcp-web", false, "every agent also serves its web API on a TCP port of its own (named in its netdata.conf)")
	fs.DurationVar(&f.timeout, "timeout", 0, "how long to wait for the lab to be ready (default: 60s + 10s per 1000 hosts)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.dir == "" {
		return nil, errors.New("--dir is required")
	}
	if f.hosts < 1 {
		return nil, errors.New("--hosts must be at least 1")
	}
	if _, err := ParsePersonalities(f.personalities); err != nil {
		return nil, err
	}
	if f.timeout == 0 {
		f.timeout = 60*time.Second + time.Duration(f.hosts)*10*time.Millisecond
	}
	abs, err := filepath.Abs(f.dir)
	if err != nil {
		return nil, err
	}
	f.dir = abs
	return f, nil
}

// cmdUp starts `fleetlab serve` detached and waits for its ready file.
func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseUpFlags("up", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab up: %v\n", err)
		return 2
	}
	if pid, alive := runningPID(f.dir); alive {
		fmt.Fprintf(stderr, "fleetlab up: a lab is already running in %s (pid %d); run `fleetlab down --dir %s` first\n", f.dir, pid, f.dir)
		return 1
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "fleetlab up: %v\n", err)
		return 1
	}
	ready := filepath.Join(f.dir, "lab.ready")
	_ = os.Remove(ready)
	logPath := filepath.Join(f.dir, "lab.log")
	cmd, err := startServe(f, logPath)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab up: %v\n", err)
		return 1
	}
	if err := waitReady(ctx, cmd, f.timeout, ready, logPath); err != nil {
		fmt.Fprintf(stderr, "fleetlab up: %v", err)
		return 1
	}
	info, err := ReadInfo(f.dir)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab up: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "lab up: %d hosts in %s (pid %d)\n  inventory: %s\n  cloud:     %s\n  stop with: fleetlab down --dir %s\n",
		len(info.Hosts), f.dir, info.PID, info.Inventory(), info.CloudURL, f.dir)
	return 0
}

// serveArgs are the arguments of the `fleetlab serve` that `up` starts.
func (f *upFlags) serveArgs() []string {
	a := []string{"serve", "--dir", f.dir, "--hosts", strconv.Itoa(f.hosts)}
	if f.seed != "" {
		a = append(a, "--seed", f.seed)
	}
	if f.personalities != "" {
		a = append(a, "--personalities", f.personalities)
	}
	if f.cpuProfile != "" {
		a = append(a, "--cpuprofile", f.cpuProfile)
	}
	if f.tcpWeb {
		a = append(a, "--tcp-web")
	}
	return a
}

// startServe starts `fleetlab serve` in a session of its own, its output
// in logPath.
func startServe(f *upFlags, logPath string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, f.serveArgs()...)
	cmd.Dir = f.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start lab process: %w", err)
	}
	return cmd, nil
}

// readyPoll is how often `up` looks for the lab's ready file.
const readyPoll = 20 * time.Millisecond

// waitReady waits until the lab process cmd wrote its pid to the ready
// file, within timeout; it kills the process when it gives up. Its error
// ends with the lab log's tail.
func waitReady(ctx context.Context, cmd *exec.Cmd, timeout time.Duration, ready, logPath string) error {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the lab process exited before it was ready (%v); %s:\n%s", err, logPath, logTail(logPath))
		case <-deadline.C:
			_ = cmd.Process.Kill()
			return fmt.Errorf("the lab was not ready after %s; %s:\n%s", timeout, logPath, logTail(logPath))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return fmt.Errorf("%v\n", ctx.Err())
		case <-tick.C:
			if data, err := os.ReadFile(ready); err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(cmd.Process.Pid) {
				return nil
			}
		}
	}
}

// logTail is the last lines of a log file, for error messages.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (no log: " + err.Error() + ")\n"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  | " + l + "\n")
	}
	return b.String()
}

// cmdServe runs the lab in the foreground until SIGTERM/SIGINT.
func cmdServe(ctx context.Context, args []string, stderr io.Writer) int {
	f, err := parseUpFlags("serve", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab serve: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(pf)
		}
		if err != nil {
			fmt.Fprintf(stderr, "fleetlab serve: cpu profile: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	l, err := Start(ctx, Options{Dir: f.dir, Hosts: f.hosts, Seed: f.seed, Personalities: f.personalities, TCPWeb: f.tcpWeb, Log: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab serve: %v\n", err)
		return 1
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := writeFileAtomic(filepath.Join(f.dir, "lab.pid"), pid, 0o644); err != nil {
		l.Close()
		fmt.Fprintf(stderr, "fleetlab serve: %v\n", err)
		return 1
	}
	if err := writeFileAtomic(filepath.Join(f.dir, "lab.ready"), pid, 0o644); err != nil {
		l.Close()
		fmt.Fprintf(stderr, "fleetlab serve: %v\n", err)
		return 1
	}
	<-ctx.Done()
	l.logf("stopping")
	_ = os.Remove(filepath.Join(f.dir, "lab.ready"))
	l.Close()
	_ = os.Remove(filepath.Join(f.dir, "lab.pid"))
	l.logf("stopped")
	return 0
}

func dirFlag(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet("fleetlab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "lab directory (required)")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if *dir == "" {
		return "", errors.New("--dir is required")
	}
	return filepath.Abs(*dir)
}

// runningPID returns the pid in DIR/lab.pid and whether that process is
// alive and is a lab serving DIR (so a recycled pid is never signalled).
func runningPID(dir string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "lab.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, isLabProcess(pid, dir)
}

func isLabProcess(pid int, dir string) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true // no /proc: trust the pid file
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	hasServe, hasDir := false, false
	for _, a := range args {
		hasServe = hasServe || string(a) == "serve"
		hasDir = hasDir || string(a) == dir
	}
	return hasServe && hasDir
}

// cmdDown stops the lab: SIGTERM, wait, SIGKILL as a last resort.
func cmdDown(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	dir, err := dirFlag("down", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab down: %v\n", err)
		return 2
	}
	pid, alive := runningPID(dir)
	if !alive {
		cleanupRunFiles(dir)
		fmt.Fprintf(stdout, "lab down: no lab running in %s\n", dir)
		return 0
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(ctx, pid, dir, 15*time.Second) {
		fmt.Fprintf(stderr, "fleetlab down: pid %d did not stop after SIGTERM; killing it\n", pid)
		_ = syscall.Kill(-pid, syscall.SIGKILL) // its session/process group
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(ctx, pid, dir, 5*time.Second) {
			fmt.Fprintf(stderr, "fleetlab down: pid %d is still running\n", pid)
			return 1
		}
	}
	if n := killSession(pid); n > 0 {
		fmt.Fprintf(stderr, "fleetlab down: killed %d leftover process(es) of the lab's session\n", n)
	}
	cleanupRunFiles(dir)
	fmt.Fprintf(stdout, "lab down: stopped pid %d\n", pid)
	return 0
}

// killSession SIGKILLs every process left in session sid (the lab process
// is a session leader, and every command its hosts ran stays in its session)
// and returns how many it found.
func killSession(sid int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == sid {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		// After ") ": state ppid pgrp session ...
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 3 && f[3] == strconv.Itoa(sid) && f[0] != "Z" {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}

func waitGone(ctx context.Context, pid int, dir string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !isLabProcess(pid, dir) || isZombie(pid) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// isZombie reports whether pid has exited but is not reaped yet (its parent,
// e.g. a test that ran `lab up`, has not waited for it).
func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(data, ')'); i > 0 && i+2 < len(data) {
		return data[i+2] == 'Z'
	}
	return false
}

func cleanupRunFiles(dir string) {
	for _, f := range []string{"lab.pid", "lab.ready", "lab.sock"} {
		_ = os.Remove(filepath.Join(dir, f))
	}
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	dir, err := dirFlag("status", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab status: %v\n", err)
		return 2
	}
	pid, alive := runningPID(dir)
	if !alive {
		fmt.Fprintf(stdout, "no lab running in %s\n", dir)
		return 3
	}
	info, err := ReadInfo(dir)
	if err != nil {
		fmt.Fprintf(stdout, "lab running in %s (pid %d)\n", dir, pid)
		return 0
	}
	fmt.Fprintf(stdout, "lab running in %s (pid %d): %d hosts, Cloud %s\n", dir, pid, len(info.Hosts), info.CloudURL)
	return 0
}

// cmdClaims prints what the lab Cloud accepted.
func cmdClaims(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetlab claims", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "lab directory (required)")
	count := fs.Bool("count", false, "print only how many nodes are claimed")
	asJSON := fs.Bool("json", false, "print the claims as JSON")
	all := fs.Bool("all", false, "include claims replaced by a later claim of the same machine")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "fleetlab claims: --dir is required")
		return 2
	}
	info, err := ReadInfo(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab claims: %v\n", err)
		return 1
	}
	get := info.Claims
	if *all {
		get = info.ClaimHistory
	}
	claims, err := get(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab claims: %v (is the lab running? fleetlab status --dir %s)\n", err, *dir)
		return 1
	}
	slices.SortStableFunc(claims, func(a, b Claim) int { return strings.Compare(a.Hostname, b.Hostname) })
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(claims)
		return 0
	case *count:
		fmt.Fprintf(stdout, "%d of %d lab hosts claimed in the lab Cloud\n", len(claims), len(info.Hosts))
		return 0
	}
	printClaims(stdout, claims, info.Rooms)
	fmt.Fprintf(stdout, "%d of %d lab hosts claimed in the lab Cloud\n", len(claims), len(info.Hosts))
	return 0
}

// printClaims prints claims as a table, their rooms by name.
func printClaims(w io.Writer, claims []Claim, rooms []Room) {
	names := map[string]string{}
	for _, r := range rooms {
		names[r.ID] = r.Name
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tROOMS\tNODE ID\tCLAIMED ID\tCLAIMED AT")
	for _, cl := range claims {
		var in []string
		for _, id := range cl.Rooms {
			if n, ok := names[id]; ok {
				in = append(in, n)
			} else {
				in = append(in, id)
			}
		}
		host := cl.Hostname
		if cl.ReplacedBy != "" {
			host += " (replaced)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", host, strings.Join(in, ", "), cl.ND, cl.NodeID, cl.Time.Local().Format(time.DateTime))
	}
	_ = tw.Flush()
}

// cmdStats prints the running lab's counters as JSON.
func cmdStats(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	dir, err := dirFlag("stats", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab stats: %v\n", err)
		return 2
	}
	info, err := ReadInfo(dir)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab stats: %v\n", err)
		return 1
	}
	st, err := info.Stats(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "fleetlab stats: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st)
	return 0
}
