package remote

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// printing is a Streamer whose "sudo" prints text on stderr, its prompt
// (captureTag, as in the capture) replaced by the runner's, and exits
// with code.
type printing struct {
	text string
	code int
}

// captureTag is the prompt lab/testdata/sudo/capture.sh gave sudo -p.
const captureTag = "[fleetclaim-sudo-0123456789abcdef] "

func (s *printing) Run(context.Context, string, io.Reader) (Result, error) {
	panic("not used")
}

func (s *printing) DialContext(context.Context, string, string) (net.Conn, error) {
	panic("not used")
}

func (s *printing) Exec(ctx context.Context, e Exec) (int, error) {
	prompt := ""
	if i := strings.Index(e.Cmd, "[fleetclaim-sudo-"); i >= 0 {
		prompt = e.Cmd[i : i+len(captureTag)]
	}
	io.WriteString(e.Stderr, strings.ReplaceAll(s.text, captureTag, prompt))
	return s.code, nil
}

// failWith runs a command through become on a tool that prints text and
// exits with code, and returns the runner's error.
func failWith(t *testing.T, b Become, user, text string, code int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Privileged(&printing{text, code}, b, user).Run(ctx, "true", nil)
	if err == nil {
		t.Fatalf("%q: no error", text)
	}
	return err
}

// captureCase is one case of lab/testdata/sudo/sudo-1.9.13p3.txt: what
// real sudo and doas printed, and their exit code.
type captureCase struct {
	name, command, text string
	rc                  int
}

func readSudoCapture(t *testing.T) map[string]captureCase {
	t.Helper()
	f, err := os.Open("../lab/testdata/sudo/sudo-1.9.13p3.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases := map[string]captureCase{}
	var c *captureCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			if c != nil {
				cases[c.name] = *c
			}
			c = &captureCase{name: strings.TrimPrefix(l, "## ")}
		case c == nil:
		case strings.HasPrefix(l, "# command: "):
			c.command = strings.TrimPrefix(l, "# command: ")
		case strings.HasPrefix(l, "# rc: "):
			c.rc, _ = strconv.Atoi(strings.TrimPrefix(l, "# rc: "))
		case strings.HasPrefix(l, "> "):
			c.text += strings.TrimPrefix(l, "> ") + "\n"
		}
	}
	if c != nil {
		cases[c.name] = *c
	}
	return cases
}

// TestPrivilegedCapturedRefusals: what real sudo 1.9.13p3 and opendoas
// 6.8.2 printed (the capture in lab/testdata/sudo), fed to the runner,
// is told apart by its whole lines: a password wanted, a wrong password,
// a user not allowed, requiretty, doas not enabled. sudo's "command not
// found" for a command (exit 1) is not "sudo is not installed".
func TestPrivilegedCapturedRefusals(t *testing.T) {
	cases := readSudoCapture(t)
	pw := []byte("pw")
	for _, w := range []struct {
		name   string
		become Become
		user   string
		cat    Category
		says   string
	}{
		{"no-rights-n", Become{Method: "sudo"}, "", CatNoPrivilege, "sudo wants a password"},
		{"no-rights-password", Become{Method: "sudo", Password: pw}, "", CatNoPrivilege, "the login user may not use sudo:"},
		{"password-needed-n", Become{Method: "sudo"}, "", CatNoPrivilege, "sudo wants a password"},
		{"wrong-password", Become{Method: "sudo", Password: pw}, "", CatSudoPassword, "not accepted"},
		{"no-password-provided", Become{Method: "sudo", Password: pw}, "", CatNoPrivilege, "sudo wants a password"},
		{"requiretty-n", Become{Method: "sudo"}, "", CatNoPrivilege, "requires a terminal"},
		{"runas-not-allowed-n", Become{Method: "sudo"}, "nobody", CatNoPrivilege, "sudo wants a password"},
		{"runas-not-allowed-password", Become{Method: "sudo", Password: pw}, "nobody", CatNoPrivilege, "may not use sudo to run commands as nobody"},
		{"command-not-found", Become{Method: "sudo"}, "", CatNoPrivilege, "sudo failed before running the command (exit 1)"},
		{"doas-no-config", Become{Method: "doas"}, "", CatNoPrivilege, "doas is not enabled on the host"},
	} {
		c, ok := cases[w.name]
		if !ok || c.text == "" || c.rc == 0 {
			t.Errorf("the capture has no case %s: %+v", w.name, c)
			continue
		}
		err := failWith(t, w.become, w.user, c.text, c.rc)
		if CategoryOf(err) != w.cat || !strings.Contains(err.Error(), w.says) {
			t.Errorf("%s (%q): %v, want %s saying %q", w.name, c.text, err, w.cat, w.says)
		}
	}
}

// TestPrivilegedLookalikes: a line that holds one of sudo's or doas's
// phrases inside a user, host or path name does not say that phrase; a
// shell's 127 says the tool is missing whatever its text.
func TestPrivilegedLookalikes(t *testing.T) {
	sudo := Become{Method: "sudo"}
	for _, c := range []struct {
		text string
		code int
		says string
	}{
		// A path holding "a password is required": the line is a refusal.
		{"Sorry, user fcplain is not allowed to execute '/opt/a password is required/x' as root on h.\n", 1, "the login user may not use sudo:"},
		// A path holding "Sorry, try again" or "not found": not a password,
		// not a missing sudo.
		{"sudo: /srv/Sorry, try again./x: command not found\n", 1, "failed before running the command (exit 1)"},
		{"sudo: /usr/local/not found/x: command not found\n", 1, "failed before running the command (exit 1)"},
		{"sh: 1: sudo: not found\n", 127, "sudo is not installed"},
		{"bash: line 1: sudo: command not found\n", 127, "sudo is not installed"},
	} {
		err := failWith(t, sudo, "", c.text, c.code)
		if CategoryOf(err) != CatNoPrivilege || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want %q", c.text, err, c.says)
		}
	}
	err := failWith(t, Become{Method: "doas"}, "", "doas: /home/u/doas is not enabled, x/y: Permission denied\n", 1)
	if strings.Contains(err.Error(), "doas is not enabled on the host") {
		t.Errorf("a path holding doas's words: %v", err)
	}
}

// asUser runs commands on this machine as user, in a session of their own
// (no controlling terminal), with PATH set to path when not "".
type asUser struct {
	Local
	user, path string
}

func (a asUser) Exec(ctx context.Context, e Exec) (int, error) {
	if e.PTY {
		return a.Local.Exec(ctx, e) // ErrNoPTY
	}
	q, err := Quote(e.Cmd)
	if err != nil {
		return 0, err
	}
	env := ""
	if a.path != "" {
		env = "env PATH=" + a.path + " "
	}
	e.Cmd = "exec setsid -w runuser -u " + a.user + " -- " + env + "sh -c " + q
	return a.Local.Exec(ctx, e)
}

// TestPrivilegedRealTools runs the real sudo and doas of this machine as
// the test users and checks what the runner makes of what they say.
func TestPrivilegedRealTools(t *testing.T) {
	env := sshdtest.New(t)
	for _, tool := range []string{"sudo", "setsid", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	_, noDoasConf := os.Stat("/etc/doas.conf")
	type row struct {
		name   string
		user   string
		path   string
		become Become
		runAs  string
		cat    Category // "" when the command runs
		says   string
	}
	rows := []row{
		{"sudo -n", sshdtest.UserSudo, "", Become{Method: "sudo"}, "", "", ""},
		{"sudo -S", sshdtest.UserSudoPassword, "", Become{Method: "sudo", Password: []byte(sshdtest.SudoPassword)}, "", "", ""},
		{"password wanted", sshdtest.UserSudoPassword, "", Become{Method: "sudo"}, "", CatNoPrivilege, "sudo wants a password"},
		{"wrong password", sshdtest.UserSudoPassword, "", Become{Method: "sudo", Password: []byte("wrong")}, "", CatSudoPassword, "not accepted"},
		{"not in sudoers", sshdtest.UserNoSudo, "", Become{Method: "sudo", Password: []byte(sshdtest.LoginPassword)}, "", CatNoPrivilege, "the login user may not use sudo:"},
		{"requiretty", sshdtest.UserTTY, "", Become{Method: "sudo"}, "", CatNoPrivilege, "requires a terminal"},
		{"no sudo", sshdtest.UserSudo, "/nonexistent", Become{Method: "sudo"}, "", CatNoPrivilege, "sudo is not installed"},
	}
	if _, err := exec.LookPath("doas"); err == nil {
		if os.IsNotExist(noDoasConf) {
			rows = append(rows, row{"doas not enabled", sshdtest.UserDoas, "", Become{Method: "doas"}, "", CatNoPrivilege, "doas is not enabled on the host"})
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("doas is not installed, and CI (.ci/run) installs it")
	}
	run := func(r row) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p := Privileged(asUser{user: r.user, path: r.path}, r.become, r.runAs)
		res, err := p.Run(ctx, "id -un", nil)
		switch {
		case r.cat == "" && (err != nil || strings.TrimSpace(string(res.Stdout)) != "root"):
			t.Errorf("%s: %q %v", r.name, res.Stdout, err)
		case r.cat != "" && (CategoryOf(err) != r.cat || !strings.Contains(err.Error(), r.says)):
			t.Errorf("%s: %v, want %s saying %q", r.name, err, r.cat, r.says)
		}
	}
	for _, r := range rows {
		run(r)
	}
	if _, err := exec.LookPath("doas"); err == nil {
		env.Doas(t)
		run(row{"doas -n", sshdtest.UserDoas, "", Become{Method: "doas"}, "", "", ""})
		run(row{"doas not permitted", sshdtest.UserSudo, "", Become{Method: "doas"}, "", CatNoPrivilege, "the login user may not use doas:"})
	}
}
