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
