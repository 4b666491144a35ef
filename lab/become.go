package lab

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Login is how fleetclaim logs in to a lab host and gains the privilege a
// claim needs. The default ("") is the lab's own user, which owns the
// host's files. The others log in as an ordinary user, "ops" (or, for
// LoginRunAs, as the agent's run-as user), whom the kernel itself sees as
// that user: the host's commands run in a user namespace where the lab's
// uid is the login user's (loginUID), so /proc and id(1) report it, and the
// agent's configuration directory (mode 0555) is closed to it. The host's
// sudo and doas, stand-ins first on its PATH, start the command in a nested
// namespace where that uid is 0, a simulated root whose CAP_DAC_OVERRIDE
// holds for the host's files; their prompts and refusals are real sudo's
// and doas's words, from the capture in testdata/sudo (sudoCapture).
// The lab needs no root for this, only user namespaces.
type Login string

// The login kinds (spec modifiers "+sudo", "+sudo-password", "+sudo-tty",
// "+doas", "+runas", "+sudo-runas"). sudo allows ops to run anything as
// root or netdata (sudoers: ops ALL=(root,netdata) NOPASSWD: ALL).
const (
	// LoginSudo: ops may run anything through sudo without a password.
	LoginSudo Login = "sudo"
	// LoginSudoPassword: ops's sudo asks for the password in DIR/sudo-password.
	LoginSudoPassword Login = "sudo-password"
	// LoginSudoTTY: ops's sudo runs only with a terminal (requiretty).
	LoginSudoTTY Login = "sudo-tty"
	// LoginDoas: ops may run anything through doas, nopass.
	LoginDoas Login = "doas"
	// LoginRunAs: the login user is the agent's run-as user, "netdata";
	// no sudo at all.
	LoginRunAs Login = "runas"
	// LoginSudoRunAs: ops becomes the agent's run-as user, "netdata",
	// through sudo (become_user), as the manual's "switch to that user".
	LoginSudoRunAs Login = "sudo-runas"
)

// knownLogins lists the login kinds a spec may name.
func knownLogins() []Login {
	return []Login{LoginSudo, LoginSudoPassword, LoginSudoTTY, LoginDoas, LoginRunAs, LoginSudoRunAs}
}

// The simulated users: names this machine's /etc/passwd does not list, with
// uids no account has.
const (
	loginUser    = "ops"
	loginUID     = 4242
	runAsLogin   = "netdata"
	runAsUID     = 4343
	sudoPassFile = "sudo-password"
)

// user is the login user's name and uid inside the host's namespace.
func (k Login) user() (string, int) {
	if k == LoginRunAs {
		return runAsLogin, runAsUID
	}
	return loginUser, loginUID
}

// sudoCapture is real sudo's (and opendoas's) output, captured by
// testdata/sudo/capture.sh: every message the stand-ins print comes from it.
//
//go:embed testdata/sudo/sudo-1.9.13p3.txt
var sudoCapture string

// sudoCaptureName names the capture in the stand-ins' comments.
const sudoCaptureName = "lab/testdata/sudo/sudo-1.9.13p3.txt"

// captured returns the lines real sudo printed in the capture's case name,
// without fleetclaim's prompt, the capture user's name replaced by $LOGNAME
// and the host's name by the lab host's. It panics on a case the capture
// lacks: the stand-ins never print a message of their own.
func captured(name string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(sudoCapture, "\n") {
		switch {
		case strings.HasPrefix(l, "## "):
			in = strings.TrimPrefix(l, "## ") == name
		case in && strings.HasPrefix(l, "> "):
			l = strings.TrimPrefix(l, "> ")
			if i := strings.Index(l, "] "); strings.HasPrefix(l, "[fleetclaim-sudo-") && i > 0 {
				l = l[i+2:]
			}
			if l != "" {
				out = append(out, l)
			}
		}
	}
	if len(out) == 0 {
		panic("lab: " + sudoCaptureName + " has no case " + name)
	}
	return out
}

// shellWords renders a captured message as a printf argument for sh, with
// the capture's user, host and command turned into the stand-in's own.
func shellWords(msg, host string) string {
	// Placeholders first: the quoting must not split what they stand for.
	subst := []struct{ from, mark, to string }{
		{"fccapture", "\x01", `'"$LOGNAME"'`},
		{"HOST", "\x02", `'"` + host + `"'`},
		{"/usr/bin/true", "\x03", `'"$cmdpath"'`},
		{"/nonexistent/fleetclaim", "\x04", `'"$1"'`},
		{" nobody ", "\x05", ` '"$u"' `},
	}
	for _, s := range subst {
		msg = strings.ReplaceAll(msg, s.from, s.mark)
	}
	q := shellQuote(msg)
	for _, s := range subst {
		q = strings.ReplaceAll(q, s.mark, s.to)
	}
	return q
}

// loginBinDir holds a login host's sudo, doas and id stand-ins.
func (p hostPaths) loginBinDir() string {
	return filepath.Join(p.prefix, "usr", "lib", "lab-login-bin")
}

// installLoginTools writes the stand-ins of a host with a login kind.
func installLoginTools(h *host, labDir string) error {
	k := h.personality.Login
	if k == "" {
		return nil
	}
	dir := h.paths.loginBinDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("host %s: %w", h.name, err)
	}
	files := map[string]string{
		"sudo": sudoStandIn(h, filepath.Join(labDir, sudoPassFile)),
		"doas": doasStandIn(h),
		"id": fmt.Sprintf(`#!/bin/sh
# fleetclaim lab: id(1) for the host's simulated users %s (uid %d) and %s
# (uid %d), whom this machine's /etc/passwd does not list; the real id
# answers the rest.
case "$(/usr/bin/id -u):$*" in
%d:-un|%d:-nu|%d:-gn|%d:-ng) echo %s; exit 0 ;;
%d:-un|%d:-nu|%d:-gn|%d:-ng) echo %s; exit 0 ;;
esac
exec /usr/bin/id "$@"
`, loginUser, loginUID, runAsLogin, runAsUID, loginUID, loginUID, loginUID, loginUID, loginUser, runAsUID, runAsUID, runAsUID, runAsUID, runAsLogin),
	}
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o755); err != nil {
			return fmt.Errorf("host %s: %w", h.name, err)
		}
	}
	return nil
}

// lockConf closes the agent's configuration directory to a login user who
// is not the agent's (mode 0555): the login user may not write claim.conf
// without sudo, as on a package install; the simulated root may.
func lockConf(h *host) error {
	if k := h.personality.Login; k == "" || k == LoginRunAs || k == LoginSudoRunAs {
		// The agent's own user writes its configuration (claim.conf).
		return nil
	}
	if err := os.Chmod(h.paths.conf, 0o555); err != nil {
		return fmt.Errorf("host %s: %w", h.name, err)
	}
	return nil
}

// sudoStandIn is the host's sudo: sudo(8)'s options fleetclaim and admins
// use (-n, -S, -p, -u, --), with real sudo's messages for what the login
// kind allows.
func sudoStandIn(h *host, passFile string) string {
	k := h.personality.Login
	msg := func(c string, i int) string { return shellWords(captured(c)[i], h.name) }
	var b strings.Builder
	sudoOptions(&b, k, msg)
	switch k {
	case LoginSudo, LoginSudoPassword, LoginSudoTTY, LoginSudoRunAs:
	default:
		// Not in sudoers: sudo asks for the password first (-n: it may not).
		sudoNotInSudoers(&b, msg)
		return b.String()
	}
	if k == LoginSudoTTY {
		sudoRequireTTY(&b, msg)
	}
	if k == LoginSudoPassword {
		sudoPassword(&b, passFile, msg)
	}
	sudoBecome(&b, msg)
	return b.String()
}

// sudoMsg is a line of the sudo capture's case, shell-quoted, the
// capture's host name replaced by the lab host's.
type sudoMsg func(captureCase string, line int) string

// sudoOptions is the stand-in's start: sudo's options and the command
// looked up on PATH.
func sudoOptions(b *strings.Builder, k Login, msg sudoMsg) {
	fmt.Fprintf(b, `#!/bin/sh
# fleetclaim lab: sudo for login kind %q. Every message is real sudo's,
# from %s.
# Not every kind reads every option:
# shellcheck disable=SC2034
n='' S='' p='[sudo] password for '"$LOGNAME"': ' u=root
while [ $# -gt 0 ]; do
  case $1 in
  -n) n=1 ;;
  -S) S=1 ;;
  -p) p=$2; shift ;;
  -u) u=$2; shift ;;
  --) shift; break ;;
  *) break ;;
  esac
  shift
done
cmdpath=
case $1 in
*/*) [ -x "$1" ] && cmdpath=$1 ;;
*)
  IFS=:
  for d in $PATH; do
    if [ -x "$d/$1" ] && [ ! -d "$d/$1" ]; then cmdpath=$d/$1; break; fi
  done
  unset IFS ;;
esac
[ -n "$cmdpath" ] || { printf '%%s\n' %s >&2; exit 1; }
`, k, sudoCaptureName, msg("command-not-found", 0))
}

// sudoNotInSudoers is the end of a login user not in sudoers.
func sudoNotInSudoers(b *strings.Builder, msg sudoMsg) {
	fmt.Fprintf(b, `[ -n "$n" ] && { printf '%%s\n' %s >&2; exit 1; }
printf '%%s' "$p" >&2
IFS= read -r _ || { printf '\n%%s\n' %s >&2; exit 1; }
printf '%%s\n' %s >&2
exit 1
`, msg("password-needed-n", 0), msg("no-password-provided", 0), msg("no-rights-password", 0))
}

// sudoRequireTTY refuses to run without a terminal (Defaults requiretty).
func sudoRequireTTY(b *strings.Builder, msg sudoMsg) {
	fmt.Fprintf(b, `[ -t 0 ] || [ "${FLEETCLAIM_LAB_PTY:-}" = 1 ] || { printf '%%s\n' %s >&2; exit 1; }
`, msg("requiretty-n", 0))
}

// sudoPassword asks for the password in passFile, three tries.
func sudoPassword(b *strings.Builder, passFile string, msg sudoMsg) {
	fmt.Fprintf(b, `[ -n "$n" ] && { printf '%%s\n' %s >&2; exit 1; }
want=$(cat %s)
tries=0
while :; do
  printf '%%s' "$p" >&2
  IFS= read -r pw || { printf '\n%%s\n' %s >&2; exit 1; }
  [ "$pw" = "$want" ] && break
  tries=$((tries+1))
  [ $tries -ge 3 ] && { printf '%%s\n' %s >&2; exit 1; }
  printf '%%s\n' %s >&2
done
`, msg("password-needed-n", 0), shellQuote(passFile), msg("no-password-provided", 0), msg("wrong-password", 2), msg("wrong-password", 0))
}

// sudoBecome runs the command as root, or as the run-as user (-u).
func sudoBecome(b *strings.Builder, msg sudoMsg) {
	fmt.Fprintf(b, `case $u in
root|0|%s|%d) ;;
*) printf '%%s\n' %s >&2; exit 1 ;;
esac
SUDO_USER=$LOGNAME SUDO_UID=$(id -u) SUDO_GID=$(id -g) SUDO_COMMAND="$*"
export SUDO_USER SUDO_UID SUDO_GID SUDO_COMMAND
case $u in
root|0) USER=root LOGNAME=root; export USER LOGNAME; exec unshare --user --map-root-user -- "$@" ;;
esac
USER=%s LOGNAME=%s
export USER LOGNAME
exec unshare --user --map-user=%d --map-group=%d -- "$@"
`, runAsLogin, runAsUID, msg("runas-not-allowed-password", 0), runAsLogin, runAsLogin, runAsUID, runAsUID)
}

// doasStandIn is the host's doas: allowed (nopass) on a doas host, else
// what opendoas says without a doas.conf.
func doasStandIn(h *host) string {
	if h.personality.Login != LoginDoas {
		return fmt.Sprintf(`#!/bin/sh
# fleetclaim lab: doas, not enabled on this host; the message is opendoas's,
# from %s.
printf '%%s\n' %s >&2
exit 1
`, sudoCaptureName, shellWords(captured("doas-no-config")[0], h.name))
	}
	return `#!/bin/sh
# fleetclaim lab: doas, the login user permitted nopass (as root only).
u=root
while [ $# -gt 0 ]; do
  case $1 in
  -n|-s) ;;
  -u) u=$2; shift ;;
  --) shift; break ;;
  *) break ;;
  esac
  shift
done
[ "$u" = root ] || exit 1
DOAS_USER=$LOGNAME USER=root LOGNAME=root
export DOAS_USER USER LOGNAME
exec unshare --user --map-root-user -- "$@"
`
}

// loginEnv adjusts a session's environment for the host's login user.
func (h *host) loginEnv(env []string) []string {
	k := h.personality.Login
	if k == "" {
		return env
	}
	name, _ := k.user()
	for i, e := range env {
		switch {
		case strings.HasPrefix(e, "PATH="):
			env[i] = "PATH=" + h.paths.loginBinDir() + ":" + strings.TrimPrefix(e, "PATH=")
		case strings.HasPrefix(e, "USER="):
			env[i] = "USER=" + name
		case strings.HasPrefix(e, "LOGNAME="):
			env[i] = "LOGNAME=" + name
		}
	}
	return env
}

// loginSysProcAttr puts a login host's command in its user namespace.
func (h *host) loginSysProcAttr(a *syscall.SysProcAttr) {
	if h.personality.Login == "" {
		return
	}
	_, uid := h.personality.Login.user()
	a.Cloneflags |= syscall.CLONE_NEWUSER
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: os.Getuid(), Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: os.Getgid(), Size: 1}}
}

// checkUserNamespaces tells whether this machine lets the lab make the user
// namespaces login hosts need.
func checkUserNamespaces() error {
	c := exec.Command("unshare", "--user", "--map-root-user", "--", "true")
	c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: loginUID, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: loginUID, HostID: os.Getgid(), Size: 1}}}
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("hosts with a login user need user namespaces and unshare(1): %v %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
