package main

import (
	"encoding/json"
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

// TestE2ERealSSHDAgentAPI claims lab hosts through real OpenSSH servers (one
// per host, as the fleet benchmark's --sshd does) with the lab's agents on
// TCP ports of their own (--tcp-web): fleetclaim's forward through sshd to
// the port in each host's netdata.conf reaches that host's agent, so the
// troubleshooting keys come from its API, not from netdatacli, and the lab's
// own SSH servers are not used.
func TestE2ERealSSHDAgentAPI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real sshd needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no /usr/sbin/sshd")
	}
	info := startLab(t, 2, "--personalities", "v2=1,v1=1", "--tcp-web")
	inv := frontWithSSHD(t, info)
	results := filepath.Join(info.Dir, "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", inv, "--no-progress", "--no-history", "--results", results)
	if r.code != exitOK {
		t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	res := readResults(t, results)
	if len(res) != len(info.Hosts) {
		t.Fatalf("%d results for %d hosts", len(res), len(info.Hosts))
	}
	for _, x := range res {
		h := hostInfo(t, info, x.Host)
		if x.Status != claim.StatusClaimed || x.Troubleshooting == nil || x.Troubleshooting.Source != "api-v1" {
			t.Errorf("%s (%s, web port %d): %s %q troubleshooting %+v, want claimed with the API's keys",
				x.Host, h.Personality, h.WebPort, x.Status, x.Message, x.Troubleshooting)
		}
	}
	out, err := exec.Command(labBinPath, "stats", "--dir", info.Dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	var st lab.Stats
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("lab stats %q: %v", out, err)
	}
	if st.WebConns < int64(len(info.Hosts)) || st.Forwards != 0 || st.Handshakes != 0 {
		t.Errorf("lab stats %+v: want the agents' own ports asked, the lab's SSH servers unused", st)
	}
}

// frontWithSSHD starts one real sshd per lab host (root, the lab's client
// key, the host's prefix untouched) and returns an inventory of the lab's
// with their ports and known_hosts; they stop when the test ends.
func frontWithSSHD(t *testing.T, info *lab.Info) string {
	t.Helper()
	dir := t.TempDir()
	_ = os.MkdirAll("/run/sshd", 0o755)
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub := strings.Fields(mustRead(t, hostKey+".pub"))
	var kh strings.Builder
	ports := map[string]string{} // lab port -> sshd port
	for i, h := range info.Hosts {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cfg := filepath.Join(dir, fmt.Sprintf("sshd-%d.conf", i))
		// SHLVL=1: bash as root's login shell sources no ~/.bashrc.
		conf := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nAuthorizedKeysFile %s\n"+
			"PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"+
			"StrictModes no\nLogLevel ERROR\nSetEnv SHLVL=1\nSubsystem sftp internal-sftp\n",
			port, hostKey, info.IdentityFile()+".pub")
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatalf("sshd: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		waitListening(t, port)
		ports[strconv.Itoa(h.Port)] = strconv.Itoa(port)
		fmt.Fprintf(&kh, "[127.0.0.1]:%d %s %s\n", port, pub[0], pub[1])
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(kh.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(mustRead(t, info.Inventory()), info.KnownHosts(), knownHosts)
	text = regexp.MustCompile(`port: (\d+)`).ReplaceAllStringFunc(text, func(m string) string {
		if p, ok := ports[strings.TrimPrefix(m, "port: ")]; ok {
			return "port: " + p
		}
		return m
	})
	inv := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(inv, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return inv
}

// waitListening waits (at most 30 s) until something accepts on the port.
func waitListening(t *testing.T, port int) {
	t.Helper()
	for range 1500 {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}

// TestE2EDefaultIdentityFileRealSSHD: an inventory that names no identity
// file logs in with the key in ~/.ssh/id_ed25519, as ssh does, through real
// OpenSSH; with no such file (and no agent) the same inventory ends
// auth-failed.
func TestE2EDefaultIdentityFileRealSSHD(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real sshd needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no /usr/sbin/sshd")
	}
	info := startLab(t, 1, "--personalities", "v2=1")
	inv := frontWithSSHD(t, info)
	text := regexp.MustCompile(`(?m)^\s*identity_files:.*\n`).ReplaceAllString(mustRead(t, inv), "")
	if strings.Contains(text, info.IdentityFile()) {
		t.Fatalf("the inventory still names the key:\n%s", text)
	}
	if err := os.WriteFile(inv, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home}
	r := fleetclaim(t, env, "claim", "-i", inv, "--output", "json", "--no-history")
	if r.code == exitOK || !strings.Contains(r.stdout, `"category": "auth-failed"`) {
		t.Fatalf("no key anywhere: exit %d, want auth-failed\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), []byte(mustRead(t, info.IdentityFile())), 0o600); err != nil {
		t.Fatal(err)
	}
	r = fleetclaim(t, env, "claim", "-i", inv, "--output", "json", "--no-history")
	if r.code != exitOK || !strings.Contains(r.stdout, `"status": "claimed"`) {
		t.Fatalf("with ~/.ssh/id_ed25519: exit %d, want claimed\n%s%s", r.code, r.stdout, r.stderr)
	}
}
