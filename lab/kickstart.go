package lab

import (
	"context"
	"fmt"
	"strings"
)

// DIR/kickstart.sh is the lab's stand-in for Netdata's kickstart.sh, for a
// fleet tool to push to a host without Netdata (KindNone) and run there. It
// asks the lab process to install a v2 agent with the static layout at the
// host's root (its prefix: opt/netdata, where the real static installer
// puts /opt/netdata) and start it. The host is the one whose SSH session
// runs it (FLEETCLAIM_LAB_HOST). Like the real script it needs
// --non-interactive to run unattended and refuses --install-prefix without
// --build-only (packaging/installer/kickstart.sh:1364-1367 v2.11.0, F0204);
// unlike it, it never claims (fleetclaim claims after the install).

func kickstartScript(env helperEnv) string {
	return fmt.Sprintf(`#!/bin/sh
# kickstart.sh (fleetclaim lab stand-in): installs a lab v2 agent, static
# layout, at the root of the lab host whose session runs it, through the
# lab process. It claims nothing.
exec %s kickstart --sock %s --host "${FLEETCLAIM_LAB_HOST:-}" -- "$@"
`, shellQuote(env.exe), shellQuote(env.sock))
}

// kickstartFlags are the options the stand-in accepts; those with a value
// take the next argument.
var kickstartFlags = map[string]bool{
	"--non-interactive": false, "--stable-channel": false, "--nightly-channel": false,
	"--static-only": false, "--native-only": false, "--disable-telemetry": false,
	"--reinstall-even-if-unsafe": false, "--dont-wait": false, "--dont-start-it": false,
	"--install-prefix": true, "--build-only": false,
}

// kickstart is the lab end of DIR/kickstart.sh, run on host name.
func (l *Lab) kickstart(ctx context.Context, name string, args []string) ctlReply {
	prefix, build := "", false
	interactive := true
	for i := 0; i < len(args); i++ {
		a := args[i]
		flag, val, hasVal := strings.Cut(a, "=")
		takes, known := kickstartFlags[flag]
		if !known {
			if strings.HasPrefix(a, "--claim-") {
				return ctlReply{Exit: 1, Stderr: "ABORTED  the lab's kickstart.sh does not claim: claim after the install\n"}
			}
			return ctlReply{Exit: 1, Stderr: fmt.Sprintf("ABORTED  Unrecognized option '%s'\n", a)}
		}
		if takes && !hasVal {
			if i+1 >= len(args) {
				return ctlReply{Exit: 1, Stderr: fmt.Sprintf("ABORTED  %s needs a value\n", a)}
			}
			i++
			val = args[i]
		}
		switch flag {
		case "--non-interactive":
			interactive = false
		case "--install-prefix":
			prefix = val
		case "--build-only":
			build = true
		}
	}
	if prefix != "" && !build {
		// kickstart.sh:1365-1366 v2.11.0.
		return ctlReply{Exit: 1, Stderr: " ABORTED  The --install-prefix option is only supported together with the --build-only option.\n"}
	}
	if build {
		return ctlReply{Exit: 1, Stderr: "ABORTED  the lab's kickstart.sh installs static builds only\n"}
	}
	if interactive {
		return ctlReply{Exit: 1, Stderr: "ABORTED  kickstart.sh would ask for confirmation: run it with --non-interactive\n"}
	}
	h := l.byName[name]
	if h == nil {
		return ctlReply{Exit: 1, Stderr: fmt.Sprintf("ABORTED  the lab installs only on a lab host, not %q\n", name)}
	}
	l.installMu.Lock()
	defer l.installMu.Unlock()
	if h.agent.installed.Load() {
		return ctlReply{Stdout: fmt.Sprintf(" OK  Netdata is already installed in %s: nothing to do\n", h.paths.netdata)}
	}
	if err := installAgent(h, l.env); err != nil {
		return ctlReply{Exit: 1, Stderr: fmt.Sprintf("FAILED  install: %v\n", err)}
	}
	h.agent.installed.Store(true)
	h.agent.start(ctx)
	l.logf("host %s: kickstart installed a v2 agent in %s", h.name, h.paths.netdata)
	return ctlReply{Stdout: fmt.Sprintf(" OK  Netdata v%s (static build) installed to %s and started\n",
		KindV2.defaultVersion(), h.paths.netdata)}
}
