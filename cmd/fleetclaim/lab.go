package main

import (
	"fmt"
	"io"
)

// runLab answers the former `fleetclaim lab ...`: the simulated fleet is its
// own command now, so an old script learns where it went.
func runLab(stderr io.Writer) int {
	fmt.Fprintln(stderr, "fleetclaim: the lab is its own command now: run `fleetlab up|down|claims|stats|status --dir DIR` (make build writes bin/fleetlab)")
	return exitUsage
}
