package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// startSSHD puts one real OpenSSH sshd (run as root, public-key auth with
// the lab's client key) in front of every lab host, each on its own port,
// with FC_PREFIX set to the host's prefix for the scripts of pssh and the
// floor. fleetclaim gets the lab's inventory with the ports and known_hosts
// swapped; the hosts' programs are the lab's (netdatacli, netdata-claim.sh),
// and the lab runs with --tcp-web, so that a forward through sshd to the web
// port in a host's netdata.conf reaches that host's agent.
// SHLVL=1 keeps bash (root's login shell here) from sourcing ~/.bashrc in
// every session, as it does under sshd: this machine's runs `pyenv init`
// (~100 ms per session), which a fleet's servers would not.
func (f *fleet) startSSHD(ctx context.Context, c *config) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("--sshd needs root (sshd runs as root and logs users in)")
	}
	dir := filepath.Join(c.dir, "sshd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.MkdirAll("/run/sshd", 0o755)
	keys, err := f.sshdKeys(ctx, dir)
	if err != nil {
		return err
	}
	var sshdPorts []int
	for i, t := range f.targets {
		port, err := f.startOneSSHD(ctx, dir, i, t, keys)
		if err != nil {
			return err
		}
		sshdPorts = append(sshdPorts, port)
	}
	if c.rtt > 0 {
		if sshdPorts, err = f.startDelayProxies(ctx, c.rtt/2, sshdPorts); err != nil {
			return err
		}
	}
	ports, err := f.writeKnownHosts(dir, sshdPorts, keys.hostPub)
	if err != nil {
		return err
	}
	if err := f.writeSSHDInventory(dir, ports); err != nil {
		return err
	}
	fmt.Printf("sshd:    %d servers up\n", len(f.targets))
	return nil
}

// sshdKeys are the servers' files: one host key for all, and the lab
// client's key as root's authorized key.
type sshdKeys struct {
	hostKey, authorized string
	hostPub             []string // the host key's type and base64
}

// sshdKeys makes the servers' host key and authorized_keys in dir.
func (f *fleet) sshdKeys(ctx context.Context, dir string) (sshdKeys, error) {
	k := sshdKeys{hostKey: filepath.Join(dir, "host_ed25519"), authorized: filepath.Join(dir, "authorized_keys")}
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k.hostKey).CombinedOutput(); err != nil {
		return k, fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(k.hostKey + ".pub")
	if err != nil {
		return k, err
	}
	k.hostPub = strings.Fields(string(pub))
	if len(k.hostPub) < 2 {
		return k, fmt.Errorf("%s.pub: not a public key", k.hostKey)
	}
	clientPub, err := os.ReadFile(f.info.IdentityFile() + ".pub")
	if err != nil {
		return k, err
	}
	return k, os.WriteFile(k.authorized, clientPub, 0o644)
}

// sshdConfig is the configuration of the sshd in front of lab host t.
func sshdConfig(port int, k sshdKeys, t target) string {
	return fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 200
MaxSessions 20
LogLevel ERROR
SetEnv FC_PREFIX=%s SHLVL=1
Subsystem sftp internal-sftp
`, port, k.hostKey, k.authorized, t.prefix)
}

// startOneSSHD starts the i-th host's sshd, logging to dir, and returns
// its port once it listens.
func (f *fleet) startOneSSHD(ctx context.Context, dir string, i int, t target, k sshdKeys) (int, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	cfg := filepath.Join(dir, fmt.Sprintf("sshd-%d.conf", i))
	if err := os.WriteFile(cfg, []byte(sshdConfig(port, k, t)), 0o644); err != nil {
		return 0, err
	}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("sshd-%d.log", i)))
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return 0, fmt.Errorf("sshd: %w", err)
	}
	f.sshds = append(f.sshds, cmd)
	return port, waitPort(ctx, port)
}

// writeKnownHosts points every target at its sshd (or its delaying
// proxy) and writes their known_hosts; it returns lab port -> new port.
func (f *fleet) writeKnownHosts(dir string, sshdPorts []int, hostPub []string) (map[int]int, error) {
	var kh strings.Builder
	ports := map[int]int{}
	for i, t := range f.targets {
		port := sshdPorts[i]
		ports[t.port] = port
		f.targets[i].port = port
		fmt.Fprintf(&kh, "[127.0.0.1]:%d %s %s\n", port, hostPub[0], hostPub[1])
	}
	f.knownHosts = filepath.Join(dir, "known_hosts")
	return ports, os.WriteFile(f.knownHosts, []byte(kh.String()), 0o644)
}

// writeSSHDInventory writes fleetclaim's inventory: the lab's, with the
// sshd ports and their known_hosts.
func (f *fleet) writeSSHDInventory(dir string, ports map[int]int) error {
	inv, err := os.ReadFile(f.info.Inventory())
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(inv), f.info.KnownHosts(), f.knownHosts)
	text = regexp.MustCompile(`port: (\d+)`).ReplaceAllStringFunc(text, func(m string) string {
		p, _ := strconv.Atoi(strings.TrimPrefix(m, "port: "))
		if np, ok := ports[p]; ok {
			return "port: " + strconv.Itoa(np)
		}
		return m
	})
	f.inventory = filepath.Join(dir, "inventory.yml")
	return os.WriteFile(f.inventory, []byte(text), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPort(ctx context.Context, port int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("sshd on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startDelayProxies starts one child process (`fleetbench delay-proxy`)
// holding a delaying proxy in front of each of ports, and returns the
// proxies' ports in the same order. A child of its own, because a child
// started by a process reports that process's peak RSS as its own
// (Linux's ru_maxrss after a fork and exec): the proxies' buffers in
// fleetbench would become every tool's peak RSS.
func (f *fleet) startDelayProxies(ctx context.Context, oneWay time.Duration, ports []int) ([]int, error) {
	var addrs []string
	for _, p := range ports {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	cmd, proxied, err := delayProxies(oneWay, addrs)
	if cmd != nil {
		f.sshds = append(f.sshds, cmd) // ended with the sshd servers
	}
	return proxied, err
}

// delayProxies starts the child holding a delaying proxy in front of each
// of addrs; it returns the child (to end) and the proxies' ports on
// 127.0.0.1, in the same order.
func delayProxies(oneWay time.Duration, addrs []string) (*exec.Cmd, []int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	args := append([]string{"delay-proxy", oneWay.String()}, addrs...)
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	ports := addrs
	sc := bufio.NewScanner(out)
	var proxied []int
	for len(proxied) < len(ports) && sc.Scan() {
		p, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			return cmd, nil, fmt.Errorf("delay-proxy printed %q", sc.Text())
		}
		proxied = append(proxied, p)
	}
	if len(proxied) != len(ports) {
		return cmd, nil, fmt.Errorf("delay-proxy started %d of %d proxies: %v", len(proxied), len(ports), sc.Err())
	}
	fmt.Printf("network: %d delaying proxies up (%s each way)\n", len(proxied), oneWay)
	return cmd, proxied, nil
}
