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

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `fleetclaim connects the Netdata Agents of a fleet to Netdata Cloud over SSH.

Usage:
  fleetclaim claim     -i INVENTORY [flags]   claim every selected host
  fleetclaim plan      -i INVENTORY [flags]   show what claim would do, change nothing
  fleetclaim verify    -i INVENTORY [flags]   read-only: is each node claimed and online?
  fleetclaim inventory list|check -i INVENTORY
  fleetclaim lab up|down --dir DIR            the built-in simulated fleet
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "claim":
		return runClaim(ctx, modeClaim, args[1:], stdout, stderr)
	case "plan":
		return runClaim(ctx, modePlan, args[1:], stdout, stderr)
	case "verify":
		return runClaim(ctx, modeVerify, args[1:], stdout, stderr)
	case "inventory":
		return runInventory(ctx, args[1:], stdout, stderr)
	case "lab":
		return runLab(ctx, args[1:], stdout, stderr)
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
