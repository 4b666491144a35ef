package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// DIR/kickstart.sh is the lab's stand-in for Netdata's kickstart.sh, for a
// fleet tool to push to a host without Netdata (KindNone) and run there. It
// asks the lab process to install a v2 agent with the static layout under
// the host's prefix (--install-prefix PREFIX/opt, as for a static build) and
// start it. Like the real script it needs --non-interactive to run unattended;
// unlike it, it never claims (fleetclaim claims after the install).

func kickstartScript(env helperEnv) string {
	return fmt.Sprintf(`#!/bin/sh
# kickstart.sh (fleetclaim lab stand-in): installs a lab v2 agent, static
# layout, under --install-prefix (a lab host's prefix + /opt), through the
# lab process. It claims nothing.
exec %s kickstart --sock %s -- "$@"
`, shellQuote(env.exe), shellQuote(env.sock))
}

// kickstartFlags are the options the stand-in accepts; those with a value
// take the next argument.
var kickstartFlags = map[string]bool{
	"--non-interactive": false, "--stable-channel": false, "--nightly-channel": false,
	"--static-only": false, "--native-only": false, "--disable-telemetry": false,
	"--reinstall-even-if-unsafe": false, "--dont-wait": false, "--dont-start-it": false,
	"--install-prefix": true,
}

// kickstart is the lab end of DIR/kickstart.sh.
func (l *Lab) kickstart(ctx context.Context, args []string) ctlReply {
	var prefix string
	interactive := true
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		takes, known := kickstartFlags[name]
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
		switch name {
		case "--non-interactive":
			interactive = false
		case "--install-prefix":
			prefix = filepath.Clean(val)
		}
	}
	if interactive {
		return ctlReply{Exit: 1, Stderr: "ABORTED  kickstart.sh would ask for confirmation: run it with --non-interactive\n"}
	}
	var h *host
	for _, c := range l.hosts {
		if prefix != "" && filepath.Join(c.paths.prefix, "opt") == prefix {
			h = c
		}
	}
	if h == nil {
		return ctlReply{Exit: 1, Stderr: fmt.Sprintf("ABORTED  the lab installs only under a lab host: --install-prefix must be HOSTPREFIX/opt, not %q\n", prefix)}
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
