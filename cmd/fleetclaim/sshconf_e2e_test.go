package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// TestE2EAnsibleINIWithSSHConfig is the case users hit: an Ansible INI
// inventory whose hosts have an ansible_host, and an ssh_config whose Host
// block on those addresses gives the known_hosts, key and user. Ansible
// runs "ssh ADDRESS", so the block applies; fleetclaim must claim with
// nothing else changed.
func TestE2EAnsibleINIWithSSHConfig(t *testing.T) {
	info := startLab(t, 2)
	addrs := make([]hostAddr, len(info.Hosts))
	for i, h := range info.Hosts {
		addrs[i] = hostAddr{h.Address, h.Port}
	}
	claimAnsibleINI(t, info, addrs, info.KnownHosts())
}

// TestE2EAnsibleINIWithSSHConfigRealSSHD is the reported case exactly:
// the hosts are 127.0.3.1 and 127.0.3.2 (real sshd in front of the lab's
// agents) and the block is "Host 127.0.3.*".
func TestE2EAnsibleINIWithSSHConfigRealSSHD(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real sshd needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no /usr/sbin/sshd")
	}
	info := startLab(t, 2)
	dir := t.TempDir()
	_ = os.MkdirAll("/run/sshd", 0o755)
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub := strings.Fields(mustRead(t, hostKey+".pub"))
	var kh strings.Builder
	addrs := make([]hostAddr, len(info.Hosts))
	for i := range info.Hosts {
		a := fmt.Sprintf("127.0.3.%d", i+1)
		p := startFrontSSHDOn(t, a, dir, fmt.Sprint(i), hostKey, "AuthorizedKeysFile "+info.IdentityFile()+".pub")
		addrs[i] = hostAddr{a, p}
		fmt.Fprintf(&kh, "[%s]:%d %s %s\n", a, p, pub[0], pub[1])
	}
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	claimAnsibleINI(t, info, addrs, known)
}

type hostAddr struct {
	addr string
	port int
}

// claimAnsibleINI claims the lab's hosts from an Ansible INI that gives
// each its ansible_host and ansible_port, with the SSH settings only in an
// ssh_config block on the addresses.
func claimAnsibleINI(t *testing.T, info *lab.Info, addrs []hostAddr, knownHosts string) {
	t.Helper()
	dir := t.TempDir()
	var ini strings.Builder
	fmt.Fprintf(&ini, "[all:vars]\nnetdata_claim_url=%s\nnetdata_claim_token_file=%s\nnetdata_claim_ca_file=%s\n\n[fleet]\n",
		info.CloudURL, filepath.Join(info.Dir, "token"), filepath.Join(info.Dir, "cloud-ca.pem"))
	for i, h := range info.Hosts {
		fmt.Fprintf(&ini, "%s ansible_host=%s ansible_port=%d netdata_claim_netdata_prefix=%s\n", h.Name, addrs[i].addr, addrs[i].port, h.Prefix)
	}
	inv := filepath.Join(dir, "hosts.ini")
	sshConfig := filepath.Join(dir, "ssh_config")
	conf := fmt.Sprintf("Host %s\n  UserKnownHostsFile %s\n  IdentityFile %s\n  User %s\n\nHost *\n  User nobody-by-name\n",
		addressPattern(addrs[0].addr), knownHosts, info.IdentityFile(), info.User)
	for _, f := range [][2]string{{inv, ini.String()}, {sshConfig, conf}} {
		if err := os.WriteFile(f[0], []byte(f[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	results := filepath.Join(dir, "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", inv, "-F", sshConfig, "--no-progress", "--no-history", "--results", results)
	if r.code != exitOK {
		t.Fatalf("claim: exit %d\n%s%s\ninventory:\n%s\nssh_config:\n%s", r.code, r.stdout, r.stderr, ini.String(), conf)
	}
	res := readResults(t, results)
	if len(res) != len(info.Hosts) {
		t.Fatalf("%d results for %d hosts", len(res), len(info.Hosts))
	}
	for _, x := range res {
		if x.Status != claim.StatusClaimed {
			t.Errorf("%s: %s %q, want claimed", x.Host, x.Status, x.Message)
		}
	}
}

// addressPattern turns 127.0.0.1 into the Host pattern 127.0.0.*.
func addressPattern(addr string) string {
	return addr[:strings.LastIndexByte(addr, '.')+1] + "*"
}

// TestE2ERealSSHDProxyCommandCertificateAgent claims three lab hosts behind
// real OpenSSH servers, each reached only as its ssh_config block says:
// one through a ProxyCommand (the real ssh -W through the server itself,
// to a HostName that does not resolve, its key under a HostKeyAlias), one
// whose sshd trusts only user certificates signed by a test CA (no
// authorized key at all), and one whose key is only in an ssh-agent the
// test starts, named by IdentityAgent (fleetclaim's own SSH_AUTH_SOCK is
// empty).
func TestE2ERealSSHDProxyCommandCertificateAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real sshd needs root")
	}
	for _, p := range []string{"/usr/sbin/sshd", "ssh", "ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs %s: %v", p, err)
		}
	}
	info := startLab(t, 3)
	dir := t.TempDir()
	_ = os.MkdirAll("/run/sshd", 0o755)
	keygen := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ssh-keygen", append([]string{"-q"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen %v: %v: %s", args, err, out)
		}
	}
	hostKey, ca, certKey := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "user_ca"), filepath.Join(dir, "cert_user")
	for _, k := range []string{hostKey, ca, certKey} {
		keygen("-t", "ed25519", "-N", "", "-f", k)
	}
	keygen("-s", ca, "-I", "fleetclaim-e2e", "-n", info.User, certKey+".pub")
	certCopy := filepath.Join(dir, "certs", "user-cert.pub")
	os.MkdirAll(filepath.Dir(certCopy), 0o700)
	if err := os.Rename(certKey+"-cert.pub", certCopy); err != nil {
		t.Fatal(err)
	}
	labKey := info.IdentityFile()
	pProxy := startFrontSSHD(t, dir, "proxy", hostKey, "AuthorizedKeysFile "+labKey+".pub")
	pCert := startFrontSSHD(t, dir, "cert", hostKey, "AuthorizedKeysFile none", "TrustedUserCAKeys "+ca+".pub")
	pAgent := startFrontSSHD(t, dir, "agent", hostKey, "AuthorizedKeysFile "+labKey+".pub")
	sock := startSSHAgent(t, dir, labKey)

	pub := strings.Fields(mustRead(t, hostKey+".pub"))
	kh := filepath.Join(dir, "known_hosts")
	khText := fmt.Sprintf("[127.0.0.1]:%d %s %s\n[127.0.0.1]:%d %s %s\n[127.0.0.1]:%d %s %s\nproxied-alias %s %s\n",
		pProxy, pub[0], pub[1], pCert, pub[0], pub[1], pAgent, pub[0], pub[1], pub[0], pub[1])
	mark := filepath.Join(dir, "proxy-ran")
	conf := fmt.Sprintf(`Host proxied
  HostName fleet-proxied.invalid
  Port %d
  HostKeyAlias proxied-alias
  ProxyCommand sh -c 'echo %%h:%%p > %s; exec ssh -F /dev/null -i %s -o BatchMode=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -p %%p -W 127.0.0.1:%%p %s@127.0.0.1'
  IdentityFile %s
Host certonly
  HostName 127.0.0.1
  Port %d
  IdentityFile %s
  CertificateFile %s
  IdentitiesOnly yes
Host viaagent
  HostName 127.0.0.1
  Port %d
  IdentityAgent %s
Host *
  User %s
  UserKnownHostsFile %s
`, pProxy, mark, labKey, kh, info.User, labKey, pCert, certKey, certCopy, pAgent, sock, info.User, kh)
	var inv strings.Builder
	fmt.Fprintf(&inv, "defaults:\n  url: %s\n  token_file: %s\n  ca_file: %s\nhosts:\n",
		info.CloudURL, filepath.Join(info.Dir, "token"), filepath.Join(info.Dir, "cloud-ca.pem"))
	names := []string{"proxied", "certonly", "viaagent"}
	for i, h := range info.Hosts {
		fmt.Fprintf(&inv, "  %s: {netdata_prefix: %s}\n", names[i], h.Prefix)
	}
	invFile, sshConfig := filepath.Join(dir, "inventory.yml"), filepath.Join(dir, "ssh_config")
	for _, f := range [][2]string{{kh, khText}, {invFile, inv.String()}, {sshConfig, conf}} {
		if err := os.WriteFile(f[0], []byte(f[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	results := filepath.Join(dir, "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", invFile, "-F", sshConfig, "--no-progress", "--no-history", "--results", results)
	if r.code != exitOK {
		t.Fatalf("claim: exit %d\n%s%s\nssh_config:\n%s", r.code, r.stdout, r.stderr, conf)
	}
	res := readResults(t, results)
	if len(res) != len(names) {
		t.Fatalf("%d results for %d hosts", len(res), len(names))
	}
	for _, x := range res {
		if x.Status != claim.StatusClaimed {
			t.Errorf("%s: %s %q, want claimed", x.Host, x.Status, x.Message)
		}
	}
	if got := strings.TrimSpace(mustRead(t, mark)); got != fmt.Sprintf("fleet-proxied.invalid:%d", pProxy) {
		t.Errorf("ProxyCommand saw %%h:%%p = %q", got)
	}

	// Without those three lines, each host is out of reach: each one is
	// what made its host reachable.
	bare := conf
	for _, drop := range []string{"ProxyCommand", "CertificateFile", "IdentityAgent"} {
		re := regexp.MustCompile(`(?m)^  ` + drop + ` .*\n`)
		bare = re.ReplaceAllString(bare, "")
	}
	if err := os.WriteFile(sshConfig, []byte(bare), 0o600); err != nil {
		t.Fatal(err)
	}
	results = filepath.Join(dir, "results-bare.jsonl")
	r = fleetclaim(t, nil, "verify", "-i", invFile, "-F", sshConfig, "--no-progress", "--no-history", "--results", results)
	want := map[string]claim.Category{"proxied": "dns", "certonly": "auth-failed", "viaagent": "auth-failed"}
	bareRes := readResults(t, results)
	if len(bareRes) != len(want) {
		t.Fatalf("verify without the lines: %d results, want %d\n%s%s", len(bareRes), len(want), r.stdout, r.stderr)
	}
	for _, x := range bareRes {
		if x.Category != want[x.Host] {
			t.Errorf("without its ssh_config line, %s: %s %s %q, want category %s", x.Host, x.Status, x.Category, x.Message, want[x.Host])
		}
	}
}

// startFrontSSHD starts a real sshd on 127.0.0.1 (root logins by key, the
// given extra lines) until the test ends, and returns its port.
func startFrontSSHD(t *testing.T, dir, name, hostKey string, extra ...string) int {
	t.Helper()
	return startFrontSSHDOn(t, "127.0.0.1", dir, name, hostKey, extra...)
}

// startFrontSSHDOn is startFrontSSHD on another loopback address.
func startFrontSSHDOn(t *testing.T, addr, dir, name, hostKey string, extra ...string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "sshd-"+name+".conf")
	conf := fmt.Sprintf("Port %d\nListenAddress %s\nHostKey %s\nPidFile none\n"+
		"PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"+
		"StrictModes no\nLogLevel VERBOSE\nSetEnv SHLVL=1\nSubsystem sftp internal-sftp\n%s\n",
		port, addr, hostKey, strings.Join(extra, "\n"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd %s log:\n%s", name, log.String())
		}
	})
	waitListeningOn(t, addr, port)
	return port
}

func waitListeningOn(t *testing.T, addr string, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s:%d", addr, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSSHAgent starts ssh-agent on a socket in dir with keys loaded; it
// stops when the test ends.
func startSSHAgent(t *testing.T, dir string, keys ...string) string {
	t.Helper()
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range keys {
		add := exec.Command("ssh-add", "-q", k)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add %s: %v: %s", k, err, out)
		}
	}
	return sock
}
