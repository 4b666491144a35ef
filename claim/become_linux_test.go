//go:build linux

package claim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// opsUID is the uid of the simulated login user "ops" inside its user
// namespace: one no account of a test machine has.
const opsUID = 4242

// nsHost is a host whose login user is an ordinary user, without root: its
// commands run with /bin/sh in a user namespace where the test's own uid is
// opsUID, so the kernel (and the probe's read of /proc) sees uid 4242; its
// sudo and doas, stand-ins on its PATH, start the command in a nested user
// namespace where that uid is 0, as real sudo makes it root, and set
// SUDO_USER/SUDO_UID (DOAS_USER) as real sudo (doas) does. As root there,
// the command may write the directories the login user may not (mode 0555:
// root's CAP_DAC_OVERRIDE holds in the namespace); as ops it may not.
type nsHost struct {
	env []string
	log string // what sudo/doas ran, one line each
}

// fakeSudo follows sudo(8)'s options fleetclaim uses (-n, -S, -p, -u, --)
// and, per FAKE_BECOME, what sudo does for a user allowed without a
// password ("nopasswd"), with one ("password"), or not at all ("refuse",
// sudo 1.9.13p3's words), or a PAM module asking its own question
// ("foreign").
const fakeSudo = `#!/bin/sh
me=${0##*/}
n= S= p= u=
while [ $# -gt 0 ]; do
  case $1 in
  -n) n=1 ;;
  -S) S=1 ;;
  -p) p=$2; shift ;;
  -u) u=$2; shift ;;
  --) shift; break ;;
  -*) echo "$me: invalid option -- '$1'" >&2; exit 1 ;;
  *) break ;;
  esac
  shift
done
case "$FAKE_BECOME" in
refuse)
  [ $me = doas ] && { echo "doas: Operation not permitted" >&2; exit 1; }
  echo "Sorry, user $LOGNAME may not run sudo on fakehost." >&2; exit 1 ;;
password)
  if [ -n "$n" ] || [ -z "$S" ]; then echo "$me: a password is required" >&2; exit 1; fi
  printf '%s' "$p" >&2
  IFS= read -r pw || exit 1
  if [ "$pw" != "$FAKE_PASSWORD" ]; then
    printf 'Sorry, try again.\n%s' "$p" >&2
    IFS= read -r pw
    echo "$me: 1 incorrect password attempt" >&2; exit 1
  fi ;;
foreign)
  [ -n "$n" ] && { echo "$me: a password is required" >&2; exit 1; }
  printf 'Verification code: ' >&2
  IFS= read -r pw
  exit 1 ;;
esac
echo "$me -u ${u:-root} $*" >> "$FAKE_LOG"
if [ $me = doas ]; then DOAS_USER=$LOGNAME; export DOAS_USER
else SUDO_USER=$LOGNAME SUDO_UID=$(id -u) SUDO_GID=$(id -g); export SUDO_USER SUDO_UID SUDO_GID
fi
case ${u:-root} in
root) exec unshare --user --map-root-user -- "$@" ;;
netdata) exec unshare --user --map-user=4343 --map-group=4343 -- "$@" ;;
"$LOGNAME") exec "$@" ;;
esac
echo "$me: unknown user $u" >&2
exit 1
`

// fakeID answers id(1) for the namespace's users, which /etc/passwd does
// not list, and leaves the rest to the real id.
const fakeID = `#!/bin/sh
u=$(/usr/bin/id -u)
case "$*" in
-un|-nu) [ "$u" = 4242 ] && { echo ops; exit 0; }; [ "$u" = 4343 ] && { echo netdata; exit 0; } ;;
esac
exec /usr/bin/id "$@"
`

// newNSHost lays out the stand-ins; it skips only when this kernel lets no
// one make a user namespace.
func newNSHost(t *testing.T, become string) *nsHost {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	bin := t.TempDir()
	for name, body := range map[string]string{"sudo": fakeSudo, "doas": fakeSudo, "id": fakeID} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := &nsHost{log: filepath.Join(t.TempDir(), "become.log")}
	h.env = []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + bin, "LOGNAME=ops", "USER=ops",
		"FAKE_BECOME=" + become, "FAKE_PASSWORD=right-password", "FAKE_LOG=" + h.log}
	res, err := h.Run(context.Background(), "unshare --user --map-root-user -- cat /proc/self/status", nil)
	if err != nil || res.ExitCode != 0 {
		t.Skipf("user namespaces are not available here: %v %s", err, res.Stderr)
	}
	return h
}

func (h *nsHost) command(ctx context.Context, cmd string) *exec.Cmd {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Env = h.env
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: opsUID, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: opsUID, HostID: os.Getgid(), Size: 1}},
	}
	return c
}

// Run implements remote.Runner.
func (h *nsHost) Run(ctx context.Context, cmd string, stdin io.Reader) (remote.Result, error) {
	var out, errb bytes.Buffer
	code, err := h.Exec(ctx, remote.Exec{Cmd: cmd, Stdin: stdin, Stdout: &out, Stderr: &errb})
	return remote.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}, err
}

// Exec implements remote.Streamer (what Privileged uses).
func (h *nsHost) Exec(ctx context.Context, e remote.Exec) (int, error) {
	if e.PTY {
		return 0, errors.New("no pseudo-terminal here")
	}
	c := h.command(ctx, e.Cmd)
	c.Stdout, c.Stderr = e.Stdout, e.Stderr
	// Stdin is copied by a goroutine Wait does not wait for: as on an SSH
	// session, the command's end does not wait for its input to end.
	var in io.WriteCloser
	if e.Stdin != nil {
		var err error
		if in, err = c.StdinPipe(); err != nil {
			return 0, err
		}
	}
	if err := c.Start(); err != nil {
		return 0, err
	}
	if in != nil {
		go func() {
			io.Copy(in, e.Stdin)
			in.Close()
		}()
	}
	err := c.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func (h *nsHost) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (h *nsHost) Close() error { return nil }

func (h *nsHost) Connect(context.Context, *inventory.Host) (Conn, error) { return h, nil }

// becomeLog is what the host's sudo/doas ran.
func (h *nsHost) becomeLog(t *testing.T) string {
	b, err := os.ReadFile(h.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// lockInstall makes the agent's config and var lib directories writable by
// root only, as a package install leaves them (the login user owns them in
// its namespace, so the mode is what keeps it out).
func lockInstall(t *testing.T, root string) {
	t.Helper()
	dirs := []string{filepath.Join(root, "opt/netdata/etc/netdata"), filepath.Join(root, "opt/netdata/var/lib/netdata")}
	for _, d := range dirs {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			os.Chmod(d, 0o755)
		}
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

func nsClaimer(ns *nsHost, mode Mode) *Claimer {
	return New(ns, Options{Mode: mode, Token: tokenOf("good-token"), Wait: 5 * time.Second, PollInterval: 10 * time.Millisecond,
		SudoPassword: func(*inventory.Host) (inventory.Secret, error) { return inventory.NewSecret("right-password"), nil }})
}

func nsTestHost(root, become string) *inventory.Host {
	h := testHost(root, "")
	h.User, h.Become = "ops", become
	return h
}

// claimConfWritten reports whether the claim wrote claim.conf.
func claimConfWritten(root string) bool {
	_, err := os.Stat(filepath.Join(root, "opt/netdata/etc/netdata/claim.conf"))
	return err == nil
}

// TestBecomeSudoClaimRunsPrivileged reproduces the become bug: the login
// user is ops, sudo works without a password, and the probe (run through
// sudo) saw uid 0. The claim must still run through sudo: as ops it cannot
// write the agent's files ("mkdir: cannot create directory ...: Permission
// denied", category write-failed).
func TestBecomeSudoClaimRunsPrivileged(t *testing.T) {
	ns := newNSHost(t, "nopasswd")
	root := fakeInstall(t, "root")
	lockInstall(t, root)
	res := nsClaimer(ns, ModeClaim).Do(context.Background(), nsTestHost(root, "sudo"))
	if res.Status != StatusClaimed {
		t.Fatalf("claim as ops with become sudo: %s [%s] %s (sudo ran: %q)", res.Status, res.Category, res.Message, ns.becomeLog(t))
	}
	if !claimConfWritten(root) {
		t.Fatal("claimed, but no claim.conf")
	}
	// The probe and the claim script both went through sudo.
	if n := strings.Count(ns.becomeLog(t), "sudo -u root "); n < 2 {
		t.Fatalf("sudo ran %d commands, want the probe and the claim at least:\n%s", n, ns.becomeLog(t))
	}
}

// stepOf returns the record's step called name.
func stepOf(t *testing.T, res Result, name string) Step {
	t.Helper()
	for _, s := range res.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, res.Steps)
	return Step{}
}

// TestBecomeEveryWay claims as a non-root login user every way fleetclaim
// can gain the privilege, and checks the record says who ran each step.
func TestBecomeEveryWay(t *testing.T) {
	cases := []struct {
		name, become, becomeUser, runAs, fake string
		password                              bool
		as, via                               string
	}{
		{"sudo without a password", "sudo", "", "root", "nopasswd", false, "root", "sudo"},
		{"sudo with a password", "sudo", "", "root", "password", true, "root", "sudo"},
		{"doas", "doas", "", "root", "nopasswd", false, "root", "doas"},
		{"become_user the run-as user", "sudo", "netdata", "netdata", "nopasswd", false, "netdata", "sudo"},
		{"login as the run-as user", "none", "", "ops", "refuse", false, "ops", "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNSHost(t, tc.fake)
			root := fakeInstall(t, tc.runAs)
			if tc.runAs == "root" {
				lockInstall(t, root)
			}
			h := nsTestHost(root, tc.become)
			h.BecomeUser = tc.becomeUser
			if tc.password {
				h.SudoPassword = inventory.SecretRef{File: "/unused"}
			}
			p := nsClaimer(ns, ModePlan).Do(context.Background(), h)
			if len(p.Plan) == 0 || !strings.Contains(p.Plan[0], "run as "+tc.as) || (tc.via != "none" && !strings.Contains(p.Plan[0], "via "+tc.via)) {
				t.Errorf("plan does not say who runs it: %q", p.Plan)
			}
			res := nsClaimer(ns, ModeClaim).Do(context.Background(), h)
			if res.Status != StatusClaimed {
				t.Fatalf("%s [%s] %s (become log %q)", res.Status, res.Category, res.Message, ns.becomeLog(t))
			}
			for _, name := range []string{"probe", "claim"} {
				if s := stepOf(t, res, name); s.As != tc.as || s.Via != tc.via {
					t.Errorf("step %s ran as %s via %s, want as %s via %s", name, s.As, s.Via, tc.as, tc.via)
				}
			}
			if s := stepOf(t, res, "connect"); s.As != "ops" || s.Via != "none" {
				t.Errorf("connect step as %s via %s, want ops via none", s.As, s.Via)
			}
		})
	}
}

// TestBecomeRefusals: a login user who cannot gain the privilege gets
// no-privilege (or sudo-password-wrong) with sudo's own words and the
// remedy, nothing written, and never waits for --timeout on a question
// sudo asks that fleetclaim cannot answer. No root needed.
func TestBecomeRefusals(t *testing.T) {
	cases := []struct {
		name, become, fake, password string
		cat                          Category
		words                        string
	}{
		{"no become configured", "none", "nopasswd", "", CatNoPrivilege, "claiming needs root or the agent's run-as user root"},
		{"sudo refuses the user", "sudo", "refuse", "", CatNoPrivilege, "may not run sudo"},
		{"doas refuses the user", "doas", "refuse", "", CatNoPrivilege, "Operation not permitted"},
		{"sudo wants a password none was given", "sudo", "password", "", CatNoPrivilege, "a password is required"},
		{"wrong sudo password", "sudo", "password", "wrong-password", remote.CatSudoPassword, "not accepted"},
		{"sudo asks something else", "sudo", "foreign", "right-password", CatNoPrivilege, "interactive"},
		{"sudo asks something else without a password", "sudo", "foreign", "", CatNoPrivilege, "a password is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNSHost(t, tc.fake)
			root := fakeInstall(t, "root")
			lockInstall(t, root)
			h := nsTestHost(root, tc.become)
			c := nsClaimer(ns, ModeClaim)
			if tc.password != "" {
				h.SudoPassword = inventory.SecretRef{File: "/unused"}
				c.opts.SudoPassword = func(*inventory.Host) (inventory.Secret, error) { return inventory.NewSecret(tc.password), nil }
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res := c.Do(ctx, h)
			if res.Status != StatusFailed || res.Category != tc.cat || !strings.Contains(res.Message, tc.words) || res.Remedy == "" {
				t.Fatalf("got %s [%s] %q (remedy %q), want [%s] with %q", res.Status, res.Category, res.Message, res.Remedy, tc.cat, tc.words)
			}
			if claimConfWritten(root) {
				t.Fatal("claim.conf written without the privilege")
			}
			if strings.Contains(res.Message, "right-password") || strings.Contains(res.Message, "wrong-password") {
				t.Fatalf("the password is in the message: %s", res.Message)
			}
		})
	}
}
