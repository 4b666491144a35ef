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
				return reply(msgKSClaim)
			}
			return reply(msgKSUnknownOption, a)
		}
		if takes && !hasVal {
			if i+1 >= len(args) {
				return reply(msgKSNeedsValue, a)
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
		return reply(msgKSPrefix)
	}
	if build {
		return reply(msgKSBuildOnly)
	}
	if interactive {
		return reply(msgKSInteractive)
	}
	h := l.byName[name]
	if h == nil {
		return reply(msgKSNotLabHost, name)
	}
	l.installMu.Lock()
	defer l.installMu.Unlock()
	if h.agent.installed.Load() {
		return reply(msgKSAlready, h.paths.netdata)
	}
	if err := installAgent(h, l.env); err != nil {
		return reply(msgKSFailed, err)
	}
	h.agent.installed.Store(true)
	h.agent.start(ctx)
	l.logf("host %s: kickstart installed a v2 agent in %s", h.name, h.paths.netdata)
	return reply(msgKSInstalled, KindV2.defaultVersion(), h.paths.netdata)
}
