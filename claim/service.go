package claim

import (
	"path"
	"strings"

	"github.com/fleetclaim/fleetclaim/remote"
)

// serviceCommand returns the shell command that starts, stops or restarts
// the agent of an install with what the host has: the install's own init
// script when the install is pinned to a prefix, else systemd, OpenRC, SysV
// init, BSD rc or launchd. action is "start", "stop" or "restart".
func serviceCommand(f *remote.ProbeFacts, in *remote.Install, pinned bool, action string) (string, error) {
	q := &remote.Quoter{}
	var cmd string
	switch {
	case pinned && in.InitScript != "":
		cmd = q.Q(in.InitScript) + " " + action
	case f.Init == "systemd":
		cmd = "systemctl " + action + " netdata"
	case f.Init == "openrc":
		cmd = "rc-service netdata " + action
	case f.Init == "launchd":
		label := "com.github.netdata"
		switch action {
		case "stop":
			cmd = "launchctl stop " + label
		case "start":
			cmd = "launchctl start " + label
		default:
			cmd = "launchctl kickstart -k system/" + label
		}
	case f.Init == "bsdrc":
		cmd = "service netdata " + action
	case in.InitScript != "":
		cmd = q.Q(in.InitScript) + " " + action
	case f.Init == "sysv":
		cmd = "service netdata " + action
	default:
		return "", fail(CatMethodUnavailable, "cannot tell how to %s the agent: no systemd, OpenRC, SysV or launchd service found", action)
	}
	return cmd, q.Err
}

// cacheDir guesses the agent's cache directory from its var lib directory
// (/var/lib/netdata → /var/cache/netdata, /opt/netdata/var/lib/netdata →
// /opt/netdata/var/cache/netdata).
func cacheDir(varLib string) string {
	if strings.HasSuffix(varLib, "/lib/netdata") {
		return strings.TrimSuffix(varLib, "/lib/netdata") + "/cache/netdata"
	}
	return path.Join(path.Dir(varLib), "cache", "netdata")
}

// serviceCommands are the agent's stop and start commands, or "" when
// fleetclaim cannot tell them.
func (r *hostRun) serviceCommands() (stop, start string) {
	pinned := r.h.Claim.NetdataPrefix != ""
	stop, err := serviceCommand(r.facts, r.inst, pinned, "stop")
	if err != nil {
		return "", ""
	}
	start, err = serviceCommand(r.facts, r.inst, pinned, "start")
	if err != nil {
		return "", ""
	}
	return stop, start
}

// noteService records, from a claim script's output, that it started an
// agent that was not running or restarted one so that its link uses a new
// proxy.
func (r *hostRun) noteService(out map[string]string, start string) {
	switch {
	case out["started"] == "1":
		r.res.Plan = append(r.res.Plan, "started the agent, which was not running ("+start+")")
	case out["restarted"] == "proxy":
		r.res.Plan = append(r.res.Plan, "restarted the agent so that its Cloud link uses the new proxy (the link reads its proxy once, at start)")
	}
}
