// Command fleetclaim connects (claims) the Netdata Agents of a whole fleet to
// Netdata Cloud over SSH.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetclaim/fleetclaim/claim"
)

// Exit codes, documented in --help and the README.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitMaxFail     = 3
	exitInterrupted = 130
)

var version = "dev"

// hostModes are the commands that run over hosts.
var hostModes = map[string]claim.Mode{
	"claim":     claim.ModeClaim,
	"plan":      claim.ModePlan,
	"verify":    claim.ModeVerify,
	"reclaim":   claim.ModeReclaim,
	"reconcile": claim.ModeReconcile,
	"unclaim":   claim.ModeUnclaim,
}

func main() {
	os.Exit(withProfiles(func() int { return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }))
}

const usage = `fleetclaim connects the Netdata Agents of a fleet to Netdata Cloud over SSH.

Usage:
  fleetclaim claim     -i INVENTORY [flags]   claim every selected host
  fleetclaim plan      -i INVENTORY [flags]   show what claim would do, change nothing
  fleetclaim reclaim   -i INVENTORY [flags]   start over: remove the claim, claim again
  fleetclaim verify    -i INVENTORY [flags]   read-only: is each node claimed and online?
  fleetclaim reconcile -i INVENTORY [flags]   for schedules: claim or reclaim what needs it
  fleetclaim unclaim   -i INVENTORY [flags]   remove the claim (and, with a Cloud API token, the node from its rooms)
  fleetclaim inventory list|check -i INVENTORY
  fleetclaim facts     -i INVENTORY [--output table|json]   what each host has, and the method claim would use
  fleetclaim history [HOST...]                past runs, and how a host changed between them
  fleetclaim status [--output table|html]     the fleet at a glance, from each host's latest run
  fleetclaim rooms sync|plan -i INVENTORY     Cloud's room membership rules follow the inventory's groups
  fleetclaim report --results FILE --output junit|markdown|table   render a results file again
  fleetclaim completion bash|zsh|fish         shell completion script
  fleetclaim version

Run 'fleetclaim COMMAND -h' for a command's flags.

Exit codes:
  0    every selected host ended well
  1    some host failed
  2    bad invocation or inventory (nothing was touched)
  3    stopped by --max-fail-percentage
  130  interrupted
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	// Host commands handle signals themselves (grace period, second
	// Ctrl-C); the others stop at the first one.
	if mode, ok := hostModes[args[0]]; ok {
		return runClaim(context.Background(), mode, args[1:], stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "report":
		return runReport(args[1:], stdout, stderr)
	case "history":
		return runHistory(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "rooms":
		return runRooms(ctx, args[1:], stdout, stderr)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	case "inventory":
		return runInventory(ctx, args[1:], stdout, stderr)
	case "facts":
		return runFacts(ctx, args[1:], stdout, stderr)
	case "lab":
		return runLab(stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "fleetclaim", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "fleetclaim: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
