// Command fleetlab runs fleetclaim's local simulated fleet and Cloud (package
// lab): `fleetlab up --hosts N --dir DIR` starts one in the background,
// `fleetlab claims|stats|status --dir DIR` read it, `fleetlab down --dir DIR`
// stops it. The programs a lab installs on its hosts (netdatacli, the init
// script, netdata-claim.sh, kickstart.sh) call back into this binary
// (`fleetlab netdatacli|service|claim-v1|kickstart ...`), never into
// fleetclaim, which carries no part of the lab.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetclaim/fleetclaim/lab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := lab.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
