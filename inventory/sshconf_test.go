package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func hostNamed(t *testing.T, inv *Inventory, name string) *Host {
	t.Helper()
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no host %s", name)
	return nil
}

func warningsAbout(inv *Inventory, word string) []Diagnostic {
	var out []Diagnostic
	for _, w := range inv.Warnings {
		if strings.Contains(w.String(), word) {
			out = append(out, w)
		}
	}
	return out
}

// TestSSHConfigStrictNoIsAcceptNew: "StrictHostKeyChecking no" in
// ssh_config never turns verification off: it becomes accept-new (which
// still refuses a changed key), with one warning per run. Only
// fleetclaim's own host_key_policy: off does.
func TestSSHConfigStrictNoIsAcceptNew(t *testing.T) {
	for _, word := range []string{"no", "off", "false"} {
		opts := testOpts()
		opts.SSHConfig = writeTemp(t, "Host *\n  StrictHostKeyChecking "+word+"\n")
		inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n  b: {}\n  c: {host_key_policy: strict}\n", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"a", "b"} {
			if h := hostNamed(t, inv, n); h.HostKeyPolicy != "accept-new" {
				t.Errorf("%s: StrictHostKeyChecking %s gave host_key_policy %q (from %s), want accept-new", n, word, h.HostKeyPolicy, h.Sources["host_key_policy"])
			}
		}
		if h := hostNamed(t, inv, "c"); h.HostKeyPolicy != "strict" {
			t.Errorf("c: the inventory's strict lost to ssh_config: %q", h.HostKeyPolicy)
		}
		if ws := warningsAbout(inv, "StrictHostKeyChecking"); len(ws) != 1 {
			t.Errorf("StrictHostKeyChecking %s: %d warnings, want exactly one: %v", word, len(ws), inv.Warnings)
		}
	}
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, "Host *\n  StrictHostKeyChecking no\n")
	opts.Overrides = []string{"host_key_policy=off"}
	inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	if h := hostNamed(t, inv, "a"); h.HostKeyPolicy != "off" {
		t.Errorf("--set host_key_policy=off gave %q", h.HostKeyPolicy)
	}
	inv, err = loadString(t, "inv.yml", "defaults: {host_key_policy: \"off\"}\nhosts:\n  a: {}\n", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if h := hostNamed(t, inv, "a"); h.HostKeyPolicy != "off" {
		t.Errorf("inventory host_key_policy: off gave %q", h.HostKeyPolicy)
	}
}

// TestSSHConfigAnsibleHostMatches: Ansible runs "ssh ansible_host", so for
// an Ansible inventory Host blocks match ansible_host (else the inventory
// name); a native inventory keeps the name, like "ssh NAME".
func TestSSHConfigAnsibleHostMatches(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, `Host 127.0.3.*
  UserKnownHostsFile ~/lab/known_hosts
  IdentityFile ~/lab/id_ed25519
  User labuser
Host h2
  User byname
`)
	inv, err := loadString(t, "hosts.ini", "h1 ansible_host=127.0.3.1\nh2\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	h1 := hostNamed(t, inv, "h1")
	if h1.Address != "127.0.3.1" || h1.User != "labuser" ||
		strings.Join(h1.KnownHosts, ",") != "/home/tester/lab/known_hosts" ||
		strings.Join(h1.IdentityFiles, ",") != "/home/tester/lab/id_ed25519" {
		t.Errorf("h1 (ansible_host=127.0.3.1): address %s user %s known_hosts %v identity %v, want the Host 127.0.3.* block", h1.Address, h1.User, h1.KnownHosts, h1.IdentityFiles)
	}
	if h2 := hostNamed(t, inv, "h2"); h2.User != "byname" {
		t.Errorf("h2 (no ansible_host): user %s, want the Host h2 block", h2.User)
	}
	// Native: the inventory name, not the address, as ssh NAME would.
	inv, err = loadString(t, "inv.yml", "hosts:\n  h2: {address: 127.0.3.1}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	if h := hostNamed(t, inv, "h2"); h.User != "byname" {
		t.Errorf("native h2 (address 127.0.3.1): user %s, want Host h2's", h.User)
	}
}

// TestSSHConfigMatch: Match blocks apply as OpenSSH applies them.
func TestSSHConfigMatch(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, `Host web*
  HostName %h.prod.example
Match host *.prod.example user deploy
  Port 2201
Match originalhost web2
  User deploy
Match exec "test %h = db1"
  IdentityFile ~/.ssh/db
Match all
  ConnectTimeout 4
`)
	inv, err := loadString(t, "inv.yml", "hosts:\n  web1: {user: deploy}\n  web2: {}\n  db1: {}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	w1, w2, db := hostNamed(t, inv, "web1"), hostNamed(t, inv, "web2"), hostNamed(t, inv, "db1")
	if w1.Address != "web1.prod.example" || w1.Port != 2201 {
		t.Errorf("web1: %s:%d, want web1.prod.example:2201", w1.Address, w1.Port)
	}
	// web2's user comes from a later block than the Port's Match: ssh
	// evaluates "user deploy" when it reads that line, with no user yet.
	if w2.User != "deploy" || w2.Port != 22 {
		t.Errorf("web2: %s@%s:%d, want deploy@…:22", w2.User, w2.Address, w2.Port)
	}
	if strings.Join(db.IdentityFiles, ",") != "/home/tester/.ssh/db" || db.ConnectTimeout.String() != "4s" {
		t.Errorf("db1: identity %v timeout %v", db.IdentityFiles, db.ConnectTimeout)
	}
}

// TestSSHConfigUnsupportedWarnsOnce: a keyword that changes how ssh
// connects and that fleetclaim does not follow is named in one warning per
// run, never ignored silently.
func TestSSHConfigUnsupportedWarnsOnce(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, `Host *
  GSSAPIAuthentication yes
  PKCS11Provider /usr/lib/opensc-pkcs11.so
  ControlPath ~/.ssh/cm-%C
  ForwardAgent no
`)
	inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n  b: {}\n  c: {}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, kw := range []string{"GSSAPIAuthentication", "PKCS11Provider", "ControlPath"} {
		if ws := warningsAbout(inv, kw); len(ws) != 1 {
			t.Errorf("%s: %d warnings, want one: %v", kw, len(ws), inv.Warnings)
		}
	}
	if ws := warningsAbout(inv, "ForwardAgent"); len(ws) != 0 {
		t.Errorf("ForwardAgent no changes nothing, warned: %v", ws)
	}
}

// TestSSHConfigConnectionSettings: the ssh_config keywords that change how
// fleetclaim connects reach the host, tokens and "~" expanded, and the
// inventory's own settings of the same name win.
func TestSSHConfigConnectionSettings(t *testing.T) {
	opts := testOpts()
	opts.LookupEnv = func(k string) (string, bool) {
		switch k {
		case "SSH_AUTH_SOCK":
			return "/run/agent.sock", true
		case "NETDATA_CLAIM_TOKEN":
			return "tok", true
		}
		return "", false
	}
	opts.SSHConfig = writeTemp(t, `Host pc
  ProxyCommand ssh -W %h:%p gw
  CertificateFile ~/.ssh/%r-cert.pub
  IdentityAgent none
  IdentitiesOnly yes
  HostKeyAlias pc-key
  HashKnownHosts yes
Host env
  IdentityAgent SSH_AUTH_SOCK
Host inv
  ProxyCommand nc %h %p
  HostKeyAlias from-ssh
`)
	inv, err := loadString(t, "inv.yml", "hosts:\n  pc: {user: ops}\n  env: {}\n  inv: {jump: gw2, host_key_alias: from-inv}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	pc := hostNamed(t, inv, "pc")
	if pc.ProxyCommand != "ssh -W %h:%p gw" || strings.Join(pc.CertificateFiles, ",") != "/home/tester/.ssh/ops-cert.pub" ||
		pc.IdentityAgent != "none" || !pc.IdentitiesOnly || pc.HostKeyAlias != "pc-key" || !pc.HashKnownHosts {
		t.Errorf("pc: %+v", pc)
	}
	if e := hostNamed(t, inv, "env"); e.IdentityAgent != "/run/agent.sock" {
		t.Errorf("IdentityAgent SSH_AUTH_SOCK gave %q", e.IdentityAgent)
	}
	in := hostNamed(t, inv, "inv")
	if in.ProxyCommand != "" || len(in.Jump) != 1 || in.HostKeyAlias != "from-inv" {
		t.Errorf("inv: the inventory's jump and host_key_alias must win: proxy %q jump %v alias %q", in.ProxyCommand, in.Jump, in.HostKeyAlias)
	}
	_, err = loadString(t, "inv.yml", "hosts:\n  x: {jump: gw, proxy_command: nc %h %p}\n", testOpts())
	if err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("jump and proxy_command together: %v", err)
	}
}

// TestSSHConfigJumpHopsResolved: ssh -J NAME resolves NAME through
// ssh_config too (its HostName, Port, User), for the inventory's jump and
// ssh_config's ProxyJump alike.
func TestSSHConfigJumpHopsResolved(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, `Host bastion
  HostName 192.0.2.10
  Port 2200
  User ops
Host web
  ProxyJump bastion,admin@inner
Host inner
  HostName 10.9.9.9
`)
	inv, err := loadString(t, "inv.yml", "hosts:\n  web: {}\n  db: {jump: bastion}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := jumpString(hostNamed(t, inv, "web").Jump); got != "ops@192.0.2.10:2200,admin@10.9.9.9" {
		t.Errorf("web jump = %s", got)
	}
	if got := jumpString(hostNamed(t, inv, "db").Jump); got != "ops@192.0.2.10:2200" {
		t.Errorf("db jump = %s", got)
	}
}

// TestAnsibleSSHArgsStrictNoAndProxyCommand: ssh options Ansible passes
// on its command line follow the same rules: StrictHostKeyChecking=no is
// accept-new (one warning), and any ProxyCommand is the host's
// proxy_command.
func TestAnsibleSSHArgsStrictNoAndProxyCommand(t *testing.T) {
	inv, err := loadString(t, "hosts.ini", `[web]
w1
w2
[web:vars]
ansible_ssh_common_args='-o StrictHostKeyChecking=no -o ProxyCommand="aws ssm start-session --target %h"'
`, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"w1", "w2"} {
		h := hostNamed(t, inv, n)
		if h.HostKeyPolicy != "accept-new" || h.ProxyCommand != "aws ssm start-session --target %h" {
			t.Errorf("%s: host_key_policy %q proxy_command %q", n, h.HostKeyPolicy, h.ProxyCommand)
		}
	}
	if ws := warningsAbout(inv, "StrictHostKeyChecking"); len(ws) != 1 {
		t.Errorf("%d warnings about StrictHostKeyChecking, want one: %v", len(ws), inv.Warnings)
	}
}

// TestSSHConfigTimes: ConnectTimeout and ServerAliveInterval are read as
// OpenSSH reads times ("1m30s", "2h", plain seconds, 0 for off).
func TestSSHConfigTimes(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, "Host a\n  ConnectTimeout 1m30s\n  ServerAliveInterval 0\nHost b\n  ConnectTimeout 7\n  ServerAliveInterval 2M\n")
	inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n  b: {}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := hostNamed(t, inv, "a"), hostNamed(t, inv, "b")
	if a.ConnectTimeout.String() != "1m30s" || a.ServerAliveInterval != 0 || b.ConnectTimeout.String() != "7s" || b.ServerAliveInterval.String() != "2m0s" {
		t.Errorf("a: %v %v, b: %v %v", a.ConnectTimeout, a.ServerAliveInterval, b.ConnectTimeout, b.ServerAliveInterval)
	}
}

// TestSSHConfigBadLines: a line ssh would refuse is an error naming the
// file and line, once, and nothing is loaded.
func TestSSHConfigBadLines(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, "Host a\n  User x\nMatch nosuch thing\n  Port 1\n")
	_, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n  b: {}\n", opts)
	if err == nil || !strings.Contains(err.Error(), opts.SSHConfig+":3: ssh_config Match: ") || strings.Count(err.Error(), "nosuch") != 1 {
		t.Fatalf("got %v, want one error at %s:3", err, opts.SSHConfig)
	}
	opts.SSHConfig = writeTemp(t, "Host a\n  ProxyCommand \"unclosed\n")
	if _, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n", opts); err == nil || !strings.Contains(err.Error(), ":2: ") {
		t.Fatalf("unclosed quote: %v", err)
	}
}

// TestSSHConfigMissingIdentityFileIsSkipped: ssh skips an IdentityFile
// from ssh_config that does not exist (a "Host *" default for keys some
// machines lack), so the run is not refused for it; one the inventory
// names must exist.
func TestSSHConfigMissingIdentityFileIsSkipped(t *testing.T) {
	opts := testOpts()
	opts.SSHConfig = writeTemp(t, "Host *\n  IdentityFile /nonexistent/id_work\n")
	inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n  b: {identity_files: [/nonexistent/id_b]}\n", opts, "token", "tok\n")
	if err != nil {
		t.Fatal(err)
	}
	err = inv.CheckSecrets(inv.Hosts)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/id_b") || strings.Contains(err.Error(), "id_work") {
		t.Errorf("CheckSecrets: %v, want only the inventory's missing identity file", err)
	}
}

// TestJumpHopUserIsNotTheTargets: a jump hop that names no user, and whose
// ssh_config gives none, logs in as the local user, as `ssh -J hop` runs
// `ssh hop`: the target's user (the inventory's, Ansible's ansible_user)
// is not the hop's. With ssh_config off too.
func TestJumpHopUserIsNotTheTargets(t *testing.T) {
	for name, conf := range map[string]string{"ssh_config": "Host bastion\n  Port 2200\n", "no ssh_config": ""} {
		opts := testOpts()
		if conf != "" {
			opts.SSHConfig = writeTemp(t, conf)
		}
		inv, err := loadString(t, "inv.yml", "defaults: {user: deploy}\nhosts:\n  web: {jump: bastion}\n  db: {jump: 'ops@bastion,inner'}\n", opts)
		if err != nil {
			t.Fatal(err)
		}
		web, db := hostNamed(t, inv, "web"), hostNamed(t, inv, "db")
		if web.User != "deploy" || len(web.Jump) != 1 || web.Jump[0].User != "tester" {
			t.Errorf("%s: web user %s jump %v, want deploy through tester@bastion", name, web.User, web.Jump)
		}
		if len(db.Jump) != 2 || db.Jump[0].User != "ops" || db.Jump[1].User != "tester" {
			t.Errorf("%s: db jump %v, want ops@bastion then tester@inner", name, db.Jump)
		}
	}
}

// TestUserSSHConfigPermissions: ~/.ssh/config writable by others is
// refused, naming the file, as ssh refuses it; the same file given with
// --ssh-config (ssh -F) is read.
func TestUserSSHConfigPermissions(t *testing.T) {
	home := t.TempDir()
	os.Mkdir(filepath.Join(home, ".ssh"), 0o700)
	conf := filepath.Join(home, ".ssh", "config")
	os.WriteFile(conf, []byte("Host a\n  User fromconfig\n"), 0o600)
	os.Chmod(conf, 0o646)
	opts := testOpts()
	opts.Home, opts.SSHConfig = home, ""
	_, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n", opts)
	if err == nil || !strings.Contains(err.Error(), conf) || !strings.Contains(err.Error(), "bad owner or permissions") {
		t.Fatalf("a world-writable ~/.ssh/config: %v, want it refused by name", err)
	}
	opts.SSHConfig = conf
	inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n", opts)
	if err != nil {
		t.Fatalf("the same file given explicitly: %v", err)
	}
	if u := hostNamed(t, inv, "a").User; u != "fromconfig" {
		t.Errorf("user %q, want the config's", u)
	}
}

// TestSSHConfigResolutionsShared: hosts whose ssh_config resolution is the
// same (the same lines, the same HostName) share the values made of it;
// one with a %-token expanded for the host, or a HostName of its own, gets
// its own.
func TestSSHConfigResolutionsShared(t *testing.T) {
	opts := testOpts()
	opts.Lazy = true
	opts.SSHConfig = writeTemp(t, "Host tok*\n  IdentityFile ~/.ssh/id_%h\nHost named*\n  HostName %h.internal\nHost *\n  User u\n  ConnectTimeout 5\n  ServerAliveInterval 7\n")
	inv, err := loadString(t, "inv.yml", "hosts:\n  a1: {}\n  a2: {}\n  a3: {}\n  tok1: {}\n  tok2: {}\n  named1: {}\n  named2: {}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(inv.res.ssh.fills); n != 3 {
		t.Errorf("%d resolutions kept, want 3 (a*, named1, named2; tok* have a %%-token)", n)
	}
	var eff [2][nSlots]*val
	for i, name := range []string{"a1", "a3"} {
		h := inv.res.hosts[inv.res.hostIdx[name]]
		inv.res.effective(h, h.combo, &eff[i], false)
	}
	if eff[0][sConnectTimeout] == nil || eff[0][sConnectTimeout] != eff[1][sConnectTimeout] || eff[0][sUser] != eff[1][sUser] {
		t.Errorf("a1 and a3 resolve alike but do not share their values: %p %p", eff[0][sConnectTimeout], eff[1][sConnectTimeout])
	}
	for name, want := range map[string]string{"tok1": "/home/tester/.ssh/id_tok1", "tok2": "/home/tester/.ssh/id_tok2"} {
		h := inv.Host(int(inv.res.hostIdx[name]))
		if len(h.IdentityFiles) != 1 || h.IdentityFiles[0] != want || h.User != "u" {
			t.Errorf("%s: identity files %v user %q, want [%s] u", name, h.IdentityFiles, h.User, want)
		}
	}
	for name, want := range map[string]string{"named1": "named1.internal", "named2": "named2.internal", "a2": "a2"} {
		if h := inv.Host(int(inv.res.hostIdx[name])); h.Address != want || h.ConnectTimeout.Seconds() != 5 {
			t.Errorf("%s: address %q timeout %v, want %q 5s", name, h.Address, h.ConnectTimeout, want)
		}
	}
}

// TestSSHConfigCommentOnlyArgument: a keyword whose only argument is a
// comment ("Port #") is refused with its file and line, as ssh refuses
// it, instead of being read as a value without arguments (which made
// resolving a host panic).
func TestSSHConfigCommentOnlyArgument(t *testing.T) {
	for _, kw := range []string{"Port", "User", "HostName", "IdentityFile", "ProxyJump"} {
		opts := testOpts()
		opts.SSHConfig = writeTemp(t, "Host *\n  "+kw+" # nothing\n")
		_, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n", opts)
		if err == nil || !strings.Contains(err.Error(), ":2: ssh_config") || !strings.Contains(err.Error(), "no argument") {
			t.Errorf("%s #: %v, want the line refused", kw, err)
		}
	}
}

// TestSSHConfigSignatureSameAsResolve: hosts that skip resolving because a
// host of the same Signature was resolved get what resolving gives them.
// The same files with a final "Match all" (no Signature: every host
// resolved) are the reference.
func TestSSHConfigSignatureSameAsResolve(t *testing.T) {
	conf := "Host bastion\n  HostName 10.255.0.1\n  User jump\n  Port 2200\n" +
		"Host *.example.com !skip.example.com\n  User fleet\n  IdentityFile ~/.ssh/id_fleet\n  Port 2222\n" +
		"Host tok*\n  IdentityFile ~/.ssh/id_%r\nHost named*\n  HostName %h.internal\n" +
		"Host fixed*\n  HostName fixed.internal\nHost *\n  ConnectTimeout 5\n  UserKnownHostsFile ~/.ssh/kh\n  StrictHostKeyChecking accept-new\n"
	inv := "hosts:\n  a.example.com: {}\n  b.example.com: {}\n  skip.example.com: {}\n  c.example.com: {user: own}\n" +
		"  d.example.com: {port: 22}\n  e.example.com: {jump: bastion}\n  tok1: {}\n  tok2: {user: r2}\n  named1: {}\n  named2: {}\n" +
		"  fixed1: {}\n  fixed2: {port: 2}\n  plain: {}\n  plain2: {}\n"
	dir := t.TempDir()
	cf, ip := filepath.Join(dir, "ssh_config"), filepath.Join(dir, "inv.yml")
	if err := os.WriteFile(ip, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(conf string) *Inventory {
		if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		opts := testOpts()
		opts.SSHConfig = cf
		got, err := Load(ip, opts)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	sig, ref := load(conf), load(conf+"Match all\n")
	if len(sig.Hosts) != 14 {
		t.Fatalf("%d hosts", len(sig.Hosts))
	}
	for i, h := range sig.Hosts {
		if !reflect.DeepEqual(h, ref.Hosts[i]) {
			t.Errorf("%s: with Signature\n%+v %v\nresolved\n%+v %v", h.Name, h, h.Sources, ref.Hosts[i], ref.Hosts[i].Sources)
		}
	}
	if !reflect.DeepEqual(sig.Warnings, ref.Warnings) {
		t.Errorf("warnings: %v, resolved %v", sig.Warnings, ref.Warnings)
	}
}
