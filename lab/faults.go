package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Faults injected into the host's own commands rather than into the SSH
// server or the lab Cloud.
const (
	// FaultNoSudo: the login user is an ordinary user, the agent runs as
	// root, and sudo and doas refuse the login user. When the lab itself
	// runs as root, the host's commands run as nobody (uid 65534), which
	// may read the agent's files but not write them; otherwise they run as
	// the lab's user, and the agent's netdata.conf names root as its
	// run-as user. Either way a sudo (and a doas) first on the host's PATH
	// answers like sudo does for a user missing from sudoers (and doas
	// without doas.conf), in their words captured in lab/testdata/sudo.
	FaultNoSudo Fault = "no-sudo"
	// FaultDiskFull: no command on the host can grow a regular file. The
	// host's commands run under `ulimit -f 0`, so the kernel refuses every
	// write to a regular file (EFBIG, with SIGXFSZ to the writer) as a
	// full disk (ENOSPC) or an exhausted quota (EDQUOT) refuses it: files
	// are created empty and the writer fails. Reads, pipes and the agent
	// itself (which lives in the lab process) are unaffected.
	FaultDiskFull Fault = "disk-full"
	// FaultFlaky: the host closes its first SSH connection right after the
	// TCP accept (a connection lost before the handshake, as a restarting
	// sshd or a flapping link does); every later connection works.
	FaultFlaky Fault = "flaky"
	// FaultSessionStall: the handshake completes and keepalives are
	// answered, but no session channel open is ever answered (neither
	// confirmed nor refused): a host that stalls after the handshake while
	// its sshd's transport still runs (out of processes, or its sessions'
	// set-up blocked on a dead filesystem). The lab sends nothing a real
	// sshd would not: it only withholds the answer.
	FaultSessionStall Fault = "session-stall"
	// FaultExecStall: sessions open, but no exec or shell request is ever
	// answered (the same stalled host, one step later: starting the
	// session's command never completes).
	FaultExecStall Fault = "exec-stall"
	// FaultCloudHostile: the Cloud endpoint answers the host's claim with
	// a 422 whose errorMsgKey is HostileErrorKey, as a hostile endpoint
	// (a url in the inventory, or a man in the middle of an insecure: yes
	// claim) can. The agent repeats an errorMsgKey it does not know as it
	// is, JSON escapes decoded: "Failed with description '%s'" (Netdata
	// v2.11.0 src/claim/claim-with-api.c:411), in netdatacli
	// reload-claiming-state's answer (src/daemon/commands.c:209) and in
	// /api/v2/info's cloud reason (src/claim/cloud-status.c:83). Test
	// fixture for fleetclaim's escaping of what hosts say.
	FaultCloudHostile Fault = "cloud-hostile"
)

// HostileErrorKey is FaultCloudHostile's errorMsgKey: an OSC that retitles
// the terminal, a cursor-up, an erase-line and a carriage return that
// overwrite the line before with a forged "claimed" one, a conceal that
// hides what follows, an 8-bit CSI, a right-to-left override and a bell.
const HostileErrorKey = "\x1b]0;owned\x07\x1b[1A\x1b[2K\rlab-001 claimed claim-conf: claimed and online\x1b[8m\u009b2J\u202e|x|[l](u)<b>"

// nobodyUID is the unprivileged user a no-sudo host's commands run as when
// the lab runs as root.
const nobodyUID = 65534

// faultBinDir holds the lab programs a faulty host finds first on its PATH.
func (p hostPaths) faultBinDir() string {
	return filepath.Join(p.prefix, "usr", "lib", "lab-fault-bin")
}

// installFaultTools lays out what a host's faults need on its filesystem.
func installFaultTools(h *host) error {
	if !h.personality.Has(FaultNoSudo) {
		return nil
	}
	dir := h.paths.faultBinDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("host %s: %w", h.name, err)
	}
	// sudo as for a user not in sudoers, doas not enabled: real sudo's
	// and opendoas's words (sudoCapture).
	for name, script := range map[string]string{"sudo": sudoStandIn(h, ""), "doas": doasStandIn(h)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			return fmt.Errorf("host %s: %w", h.name, err)
		}
	}
	if os.Geteuid() == 0 {
		// nobody must reach its home, the host's prefix: DIR/hosts/NAME.
		labDir := filepath.Dir(filepath.Dir(h.paths.prefix))
		for _, d := range []string{labDir, filepath.Dir(h.paths.prefix), h.paths.prefix} {
			st, err := os.Stat(d)
			if err != nil {
				return fmt.Errorf("host %s: %w", h.name, err)
			}
			if err := os.Chmod(d, st.Mode().Perm()|0o111); err != nil {
				return fmt.Errorf("host %s: %w", h.name, err)
			}
		}
	}
	return nil
}

// runAsUser is the run-as user the host's netdata.conf names.
func (h *host) runAsUser(labUser string) string {
	switch {
	case h.personality.Login == LoginRunAs, h.personality.Login == LoginSudoRunAs:
		return runAsLogin
	case h.personality.Has(FaultNoSudo), h.personality.Login != "":
		// The login user is not the agent's: claiming needs root.
		return "root"
	}
	return labUser
}

// shellArgs are the arguments of the /bin/sh that runs a session's command.
func (h *host) shellArgs(args []string, command string) []string {
	if h.personality.Has(FaultDiskFull) && len(args) == 2 && args[0] == "-c" {
		return []string{"-c", "ulimit -f 0\n" + command}
	}
	return args
}

// faultEnv adjusts a session's environment for the host's faults.
func (h *host) faultEnv(env []string) []string {
	if !h.personality.Has(FaultNoSudo) {
		return env
	}
	out := make([]string, 0, len(env))
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			e = "PATH=" + h.paths.faultBinDir() + ":" + p
		}
		if os.Geteuid() == 0 && (strings.HasPrefix(e, "USER=") || strings.HasPrefix(e, "LOGNAME=")) {
			k, _, _ := strings.Cut(e, "=")
			e = k + "=nobody"
		}
		out = append(out, e)
	}
	return out
}

// faultCredential is who a session's command runs as: nil for the lab's
// own user.
func (h *host) faultCredential() *syscall.Credential {
	if h.personality.Has(FaultNoSudo) && os.Geteuid() == 0 {
		return &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID} // and no supplementary groups
	}
	return nil
}

// dropFirstConn reports whether this connection is the flaky host's first
// one, which the host drops.
func (h *host) dropFirstConn() bool {
	return h.personality.Has(FaultFlaky) && h.flaked.CompareAndSwap(false, true)
}

// agentClaimed reports whether the host's agent holds a claim now: a
// session during which it became claimed ran the claim (the command may
// have come on stdin, as `sh -s` does).
func (h *host) agentClaimed() bool {
	return h.agent != nil && h.agent.isClaimed()
}

// holdsChannelOpens reports whether the host leaves session channel opens
// unanswered (FaultSessionStall).
func (h *host) holdsChannelOpens() bool { return h.personality.Has(FaultSessionStall) }

// holdsExecs reports whether the host leaves exec and shell requests
// unanswered (FaultExecStall).
func (h *host) holdsExecs() bool { return h.personality.Has(FaultExecStall) }
