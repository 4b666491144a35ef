package main

import (
	"context"
	"io"

	"github.com/fleetclaim/fleetclaim/lab"
)

// runLab runs `fleetclaim lab ...` (args are what follows "lab"): the local
// simulated fleet and Cloud, and the helpers its hosts call.
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return lab.Main(ctx, args, stdout, stderr)
}
