package sshconfig

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// oracleKeywords are the keywords fleetclaim reads from ssh_config (and the
// ones it warns about), compared with real ssh -G.
var oracleKeywords = []string{
	"user", "hostname", "port", "identityfile", "certificatefile", "userknownhostsfile",
	"stricthostkeychecking", "connecttimeout", "serveraliveinterval", "proxycommand", "proxyjump",
	"hostkeyalias", "identityagent", "identitiesonly", "hashknownhosts",
	"gssapiauthentication", "pkcs11provider", "controlpath",
}

type corpusCase struct {
	name    string
	files   map[string]string // relative path -> content; "" is the config
	queries [][]string
}

func readCorpus(t *testing.T) []corpusCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/corpus/*.conf")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var out []corpusCase
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := corpusCase{name: filepath.Base(p), files: map[string]string{}}
		cur := ""
		var b strings.Builder
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			l := sc.Text()
			if name, ok := strings.CutPrefix(l, "=== "); ok {
				c.files[cur] = b.String()
				b.Reset()
				cur = name
				continue
			}
			if q, ok := strings.CutPrefix(l, "#@ "); ok && cur == "" {
				c.queries = append(c.queries, strings.Fields(q))
			}
			b.WriteString(l + "\n")
		}
		c.files[cur] = b.String()
		out = append(out, c)
	}
	return out
}

// sshG runs the real ssh -G and returns its settings (repeated keys joined
// with newlines).
func sshG(t *testing.T, config string, args []string) map[string]string {
	t.Helper()
	cmd := exec.Command("ssh", append([]string{"-G", "-F", config}, args...)...)
	cmd.Stdin = nil
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh -G -F %s %v: %v: %s", config, args, err, errText(err))
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		if old, ok := m[k]; ok {
			v = old + "\n" + v
		}
		m[k] = v
	}
	return m
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// effective renders our resolution of kw the way ssh -G prints it; ok is
// false when the files leave kw unset (ssh then prints its default).
func effective(t *testing.T, r *Result, home, kw string) (string, bool) {
	t.Helper()
	tok := r.Tokens()
	path := func(s string) string {
		p, err := ExpandPath(s, home, tok, os.LookupEnv)
		if err != nil {
			t.Fatalf("%s: %v", kw, err)
		}
		return p
	}
	switch kw {
	case "user":
		return r.User(), true
	case "hostname":
		return r.Hostname(), true
	case "port":
		return strconv.Itoa(r.Port()), true
	case "identityfile", "certificatefile":
		var vs []string
		for _, v := range r.List(kw) {
			vs = append(vs, v.Args[0])
		}
		return strings.Join(vs, "\n"), len(vs) > 0
	}
	v, ok := r.Get(kw)
	if !ok {
		return "", false
	}
	a := v.Args[0]
	switch kw {
	case "userknownhostsfile":
		var vs []string
		for _, f := range v.Args {
			vs = append(vs, path(f))
		}
		return strings.Join(vs, " "), true
	case "identityagent":
		if a == "none" || a == "SSH_AUTH_SOCK" {
			return a, true
		}
		return path(a), true
	case "controlpath":
		if a == "none" {
			return "", true // ssh -G leaves it out
		}
		return path(a), true
	case "stricthostkeychecking":
		switch strings.ToLower(a) {
		case "yes", "true":
			return "true", true
		case "no", "off", "false":
			return "false", true
		}
		return strings.ToLower(a), true
	case "connecttimeout", "serveraliveinterval":
		n, err := ParseTime(a)
		if err != nil {
			t.Fatalf("%s %q: %v", kw, a, err)
		}
		return strconv.FormatInt(n, 10), true
	case "identitiesonly", "hashknownhosts", "gssapiauthentication":
		switch strings.ToLower(a) {
		case "yes", "true":
			return "yes", true
		}
		return "no", true
	case "proxycommand", "proxyjump":
		if a == "none" {
			return "", true
		}
		return v.Raw, true
	}
	return a, true
}

// TestOracleSSHG resolves every file of the corpus for each of its hosts
// with fleetclaim and with the real ssh -G, and compares every keyword
// fleetclaim uses.
func TestOracleSSHG(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no OpenSSH client (ssh) for the oracle")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	dir := t.TempDir()
	t.Setenv("FCTEST_AGENT_DIR", filepath.Join(dir, "agents"))
	cases := readCorpus(t)
	queries, compared := 0, 0
	for _, c := range cases {
		cdir := filepath.Join(dir, strings.TrimSuffix(c.name, ".conf"))
		var names []string
		for rel := range c.files {
			names = append(names, rel)
		}
		sort.Strings(names)
		for _, rel := range names {
			p := filepath.Join(cdir, rel)
			if rel == "" {
				p = filepath.Join(cdir, "config")
			}
			os.MkdirAll(filepath.Dir(p), 0o700)
			text := strings.ReplaceAll(c.files[rel], "@DIR@", cdir)
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		config := filepath.Join(cdir, "config")
		cfg, err := Open(config, u.HomeDir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, q := range c.queries {
			queries++
			uid, _ := strconv.Atoi(u.Uid)
			query := Query{Host: q[0], LocalUser: u.Username, UID: uid, LocalHost: host}
			for i := 1; i+1 < len(q); i += 2 {
				switch q[i] {
				case "-l":
					query.User = q[i+1]
				case "-p":
					query.Port, _ = strconv.Atoi(q[i+1])
				}
			}
			r, err := cfg.Resolve(query)
			if err != nil {
				t.Errorf("%s %v: %v", c.name, q, err)
				continue
			}
			got := sshG(t, config, q)
			base := sshG(t, "/dev/null", q)
			for _, kw := range oracleKeywords {
				want := got[kw]
				ours, set := effective(t, r, u.HomeDir, kw)
				if !set {
					ours = base[kw]
				}
				compared++
				if ours != want {
					t.Errorf("%s ssh %s: %s = %q, ssh -G says %q", c.name, strings.Join(q, " "), kw, ours, want)
				}
			}
		}
	}
	t.Logf("ssh -G oracle: %d files, %d hosts resolved, %d keyword values compared", len(cases), queries, compared)
}

// TestHostNameUnknownToken: HostName takes %h and %% only; ssh refuses
// any other token, and so does fleetclaim, naming the line.
func TestHostNameUnknownToken(t *testing.T) {
	cfg, err := OpenBytes("cfg", "/h", []byte("Host a\n  HostName %h-%p\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Resolve(Query{Host: "a", LocalUser: "me"})
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || le.Keyword != "HostName" {
		t.Fatalf("HostName %%h-%%p: %v, want a LineError at line 2", err)
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return
	}
	cf := filepath.Join(t.TempDir(), "cfg")
	os.WriteFile(cf, []byte("Host a\n  HostName %h-%p\n"), 0o600)
	if out, err := exec.Command("ssh", "-G", "-F", cf, "a").CombinedOutput(); err == nil {
		t.Errorf("the oracle disagrees: ssh -G accepts HostName %%h-%%p: %s", out)
	}
}

// TestIncludePermissions: an Included file writable by its group or others
// is refused, as ssh refuses it ("Bad owner or permissions"); the file
// given with -F is not checked, the Included one always is. Where ssh is
// installed it is the oracle for the world-writable and the safe file.
// Not for the group-writable one: Debian's ssh (its user-group-modes
// patch) accepts a group-writable file whose group has the owner as its
// only member, as root's group is here; upstream OpenSSH, and fleetclaim,
// refuse it.
func TestIncludePermissions(t *testing.T) {
	dir := t.TempDir()
	main, inc := filepath.Join(dir, "cfg"), filepath.Join(dir, "inc")
	os.WriteFile(main, []byte("Include "+inc+"\nHost a\n  User fromMain\n"), 0o666)
	os.WriteFile(inc, []byte("Host a\n  Port 2222\n"), 0o644)
	os.Chmod(main, 0o666) // past the umask
	for _, mode := range []os.FileMode{0o644, 0o664, 0o646} {
		os.Chmod(inc, mode)
		cfg, err := Open(main, dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cfg.Resolve(Query{Host: "a", LocalUser: "me"})
		refused := err != nil && strings.Contains(err.Error(), "bad owner or permissions on "+inc)
		if refused != (mode&0o022 != 0) {
			t.Errorf("Include of a %04o file: %v", mode, err)
		}
		if _, lerr := exec.LookPath("ssh"); lerr == nil && mode&0o020 == 0 {
			out, serr := exec.Command("ssh", "-G", "-F", main, "a").CombinedOutput()
			if (serr != nil) != refused {
				t.Errorf("the oracle disagrees on an Include of a %04o file: ssh -G %v: %s", mode, serr, out)
			}
		}
	}
}
