// Command fleetbench measures fleetclaim against a fleet and compares it with
// Ansible, parallel-ssh and a minimal Go "floor" program on the same hosts.
//
// It starts a lab of N hosts in its own process through the fleetlab binary
// (`fleetlab up`; the one next to --fleetclaim, or --fleetlab), optionally
// puts one real OpenSSH sshd in front of each lab host (--sshd), then runs each tool in turn, round after round,
// and accounts for each tool's process tree only (wait4 rusage: wall, user+sys
// CPU, peak RSS), the lab's counters (connections, handshakes, sessions, execs
// per host) and the lab process's own CPU. It prints one line per run and
// then medians, spread and the ratios to fleetclaim.
//
//	fleetbench --fleetclaim bin/fleetclaim --hosts 200 --runs 3 --tools fleetclaim,floor,pssh,ansible
//	fleetbench --fleetclaim bin/fleetclaim --hosts 50 --sshd --method v1 --runs 3
//	fleetbench --fleetclaim bin/fleetclaim --hosts 10000 --tools fleetclaim --runs 1
//	fleetbench --fleetclaim bin/fleetclaim --hosts 50 --sshd --method v1 --rtt 50ms --forks 10
//
// `fleetbench floor ...` is the floor program itself, run as a child so that
// its rusage is its own; `fleetbench delay-proxy ...` holds the delaying
// proxies of --rtt (a network between the tools and the hosts);
// `fleetbench debug-timings FILE HOSTS` prints the per-command breakdown of
// a fleetclaim --debug trace (what --real prints after its rounds);
// `fleetbench inventory ...` times `fleetclaim inventory check` on large
// generated inventories (1k to 1M hosts, native, INI and JSON).
//
// Timings are reported, never checked: fleetbench fails only when a tool does
// not claim every host.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(floorMain(ctx, os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "inventory" {
		os.Exit(inventoryMain(ctx, os.Args[2:]))
	}
	if len(os.Args) > 3 && os.Args[1] == "debug-timings" {
		os.Exit(debugTimingsMain(os.Args[2], os.Args[3]))
	}
	if len(os.Args) > 1 && os.Args[1] == "delay-proxy" {
		os.Exit(delayProxyMain(ctx, os.Args[2:]))
	}
	os.Exit(benchMain(ctx, os.Args[1:]))
}

func fatalf(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "fleetbench: "+format+"\n", args...)
	return 1
}
