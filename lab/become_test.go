package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginHosts: a login host's commands run as its login user, as the
// kernel sees it; sudo and doas make a simulated root that may write what
// the login user may not, and refuse in real sudo's words.
func TestLoginHosts(t *testing.T) {
	if err := checkUserNamespaces(); err != nil {
		t.Skip(err)
	}
	l := startLab(t, 6, "v2+sudo=1,v2+sudo-password=1,v2+sudo-tty=1,v2+doas=1,v2+runas=1,v2+sudo-runas=1")
	info := l.Info()
	host := func(k Login) HostInfo {
		for _, h := range info.Hosts {
			if h.Personality.Login == k {
				return h
			}
		}
		t.Fatalf("no host with login %s", k)
		return HostInfo{}
	}
	sh := func(k Login, cmd, stdin string) (string, string, int) {
		c := dial(t, info, host(k).Name)
		defer c.Close()
		return run(t, c, cmd, stdin)
	}
	conf := "opt/netdata/etc/netdata"
	t.Run("sudo", func(t *testing.T) {
		out, _, _ := sh(LoginSudo, `grep '^Uid:' /proc/$$/status; id -un; touch `+conf+`/x 2>/dev/null || echo denied`, "")
		if !strings.Contains(out, "4242") || !strings.Contains(out, "ops\n") || !strings.Contains(out, "denied") {
			t.Fatalf("as the login user: %q", out)
		}
		out, errOut, code := sh(LoginSudo, `sudo -n -- sh -c 'grep "^Uid:" /proc/$$/status; echo "$SUDO_USER $SUDO_UID"; touch `+conf+`/x && echo wrote'`, "")
		if code != 0 || !strings.Contains(out, "Uid:\t0") || !strings.Contains(out, "ops 4242") || !strings.Contains(out, "wrote") {
			t.Fatalf("through sudo: %d %q %q", code, out, errOut)
		}
		if _, errOut, _ := sh(LoginSudo, "sudo -n -u nobody true", ""); !strings.Contains(errOut, "Sorry, user ops is not allowed to execute '/usr/bin/true' as nobody on "+host(LoginSudo).Name+".") {
			t.Fatalf("sudo -u nobody: %q", errOut)
		}
	})
	t.Run("sudo-password", func(t *testing.T) {
		pw, err := os.ReadFile(filepath.Join(info.Dir, sudoPassFile))
		if err != nil {
			t.Fatal(err)
		}
		if _, errOut, _ := sh(LoginSudoPassword, "sudo -n true", ""); errOut != "sudo: a password is required\n" {
			t.Fatalf("sudo -n: %q", errOut)
		}
		_, errOut, code := sh(LoginSudoPassword, "sudo -S -p 'P: ' true", "wrong\nwrong\nwrong\n")
		if code == 0 || errOut != "P: Sorry, try again.\nP: Sorry, try again.\nP: sudo: 3 incorrect password attempts\n" {
			t.Fatalf("wrong password: %d %q", code, errOut)
		}
		if out, errOut, code := sh(LoginSudoPassword, "sudo -S -p 'P: ' id -u", string(pw)); code != 0 || out != "0\n" {
			t.Fatalf("right password: %d %q %q", code, out, errOut)
		}
	})
	t.Run("sudo-tty", func(t *testing.T) {
		if _, errOut, _ := sh(LoginSudoTTY, "sudo -n true", ""); errOut != "sudo: sorry, you must have a tty to run sudo\n" {
			t.Fatalf("requiretty: %q", errOut)
		}
	})
	t.Run("doas", func(t *testing.T) {
		if out, _, code := sh(LoginDoas, `doas -n sh -c 'id -u; echo "$DOAS_USER"'`, ""); code != 0 || out != "0\nops\n" {
			t.Fatalf("doas: %d %q", code, out)
		}
		if _, errOut, _ := sh(LoginSudo, "doas -n true", ""); errOut != "doas: doas is not enabled, /etc/doas.conf: No such file or directory\n" {
			t.Fatalf("doas on a sudo host: %q", errOut)
		}
	})
	t.Run("sudo-runas", func(t *testing.T) {
		out, errOut, code := sh(LoginSudoRunAs, `sudo -n -u netdata sh -c 'id -u; id -un; echo "$SUDO_USER"'`, "")
		if code != 0 || out != "4343\nnetdata\nops\n" {
			t.Fatalf("sudo -u netdata: %d %q %q", code, out, errOut)
		}
	})
	t.Run("runas", func(t *testing.T) {
		out, _, _ := sh(LoginRunAs, "id -un; touch "+conf+"/x && echo wrote", "")
		if out != "netdata\nwrote\n" {
			t.Fatalf("the agent's user: %q", out)
		}
		b, _ := os.ReadFile(filepath.Join(host(LoginRunAs).Prefix, conf, "netdata.conf"))
		if !strings.Contains(string(b), "run as user = netdata") {
			t.Fatalf("netdata.conf:\n%s", b)
		}
	})
}

// TestLoginMessagesAreCaptured: every line the stand-ins can print is in
// the capture of real sudo and doas.
func TestLoginMessagesAreCaptured(t *testing.T) {
	for _, c := range []string{"command-not-found", "password-needed-n", "no-password-provided", "no-rights-password",
		"requiretty-n", "wrong-password", "runas-not-allowed-password", "doas-no-config"} {
		for _, l := range captured(c) {
			if !strings.Contains(sudoCapture, "> "+l) && !strings.Contains(sudoCapture, "] "+l) {
				t.Errorf("%s: %q is not in %s", c, l, sudoCaptureName)
			}
		}
	}
	if !strings.HasPrefix(sudoCapture, "# Sudo version ") {
		t.Errorf("%s does not name the sudo version first", sudoCaptureName)
	}
}
