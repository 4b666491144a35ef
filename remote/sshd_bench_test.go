package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
	"golang.org/x/crypto/ssh"
)

// inProcessServer is a minimal x/crypto/ssh server: public key auth for one
// key, and exec requests that succeed at once with exit status 0.
func inProcessServer(b testing.TB) (addr, keyFile, knownHosts string) {
	return inProcessServerWith(b, serveConn)
}

// inProcessServerWith is inProcessServer with serve running each accepted
// connection.
func inProcessServerWith(b testing.TB, serve func(net.Conn, *ssh.ServerConfig)) (addr, keyFile, knownHosts string) {
	dir := b.TempDir()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		b.Fatal(err)
	}
	keyFile = filepath.Join(dir, "id")
	os.WriteFile(keyFile, pem.EncodeToMemory(blk), 0o600)
	authorized, _ := ssh.NewPublicKey(clientPub)

	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(authorized.Marshal()) {
			return nil, nil
		}
		return nil, fmt.Errorf("unknown key")
	}}
	cfg.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c, cfg)
		}
	}()
	addr = l.Addr().String()
	host, port, _ := net.SplitHostPort(addr)
	knownHosts = filepath.Join(dir, "known_hosts")
	os.WriteFile(knownHosts, []byte(fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))), 0o600)
	return addr, keyFile, knownHosts
}

func serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			for r := range creqs {
				r.Reply(r.Type == "exec", nil)
				if r.Type == "exec" {
					ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
					ch.Close()
				}
			}
		}()
	}
}

// BenchmarkConnect measures one host's connection: TCP, handshake, auth and
// one exec, against an in-process server (its CPU is included).
func BenchmarkConnect(b *testing.B) {
	addr, key, kh := inProcessServer(b)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	d := NewDialer(DialerOptions{})
	defer d.Close()
	tg := Target{Name: "bench", Hop: Hop{User: "u", Address: host, Port: p}, IdentityFiles: []string{key}, KnownHosts: []string{kh}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.Dial(ctx, tg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Run(ctx, "true", nil); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

var connectCPU = flag.Int("fleetclaim.connect-cpu", 0, "measure client CPU per connection against a real sshd with this many connections, and compare with OpenSSH's ssh")

// TestConnectCPU (go test ./remote -run TestConnectCPU -fleetclaim.connect-cpu=200 -v)
// reports connections per second and client CPU per connection (handshake,
// auth and one exec) against a real sshd, for fleetclaim and for OpenSSH's
// ssh on the same server.
func TestConnectCPU(t *testing.T) {
	n := *connectCPU
	if n <= 0 {
		t.Skip("set -fleetclaim.connect-cpu=N to measure")
	}
	e := sshdtest.New(t)
	s := e.Start(t, sshdtest.Options{Name: "cpu", MaxStartups: "100:30:200"})
	kh := e.WriteKnownHosts(t, false, s.KnownHostsLine(t, "ed25519"))
	tg := Target{Name: "cpu", Hop: Hop{User: "root", Address: s.Host, Port: s.Port}, IdentityFiles: []string{e.Key}, KnownHosts: []string{kh}}
	ctx := context.Background()
	one := func(d *Dialer) {
		c, err := d.Dial(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := c.Run(ctx, "true", nil); err != nil || res.ExitCode != 0 {
			t.Fatal(res, err)
		}
		c.Close()
	}
	for _, par := range []int{1, 8} {
		d := NewDialer(DialerOptions{})
		one(d) // warm: keys parsed, known_hosts loaded
		start, cpu0 := time.Now(), cpuSelf()
		var wg sync.WaitGroup
		work := make(chan struct{}, n)
		for i := 0; i < n; i++ {
			work <- struct{}{}
		}
		close(work)
		for w := 0; w < par; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					one(d)
				}
			}()
		}
		wg.Wait()
		el, cpu := time.Since(start), cpuSelf()-cpu0
		d.Close()
		t.Logf("fleetclaim, %d in parallel: %d connections in %v: %.0f conn/s, client CPU %.2f ms/connection",
			par, n, el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(cpu.Microseconds())/1000/float64(n))
	}
	// ssh-agent: signatures per second from 8 handshakes at once, with one
	// shared agent connection and with a pool of 4.
	sock := e.StartAgent(t, e.AgentKey)
	for _, conns := range []int{1, 4} {
		pool := newAgentPool(sock, conns)
		keys, err := pool.keys()
		if err != nil || len(keys) == 0 {
			t.Fatal(keys, err)
		}
		const signs = 4000
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < signs/8; i++ {
					if _, err := keys[0].Sign(rand.Reader, []byte("session data to sign")); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		pool.close()
		t.Logf("ssh-agent, 8 signers, %d agent connection(s): %.0f signatures/s", conns, signs/time.Since(start).Seconds())
	}
	ssh := func() *exec.Cmd {
		return exec.Command("ssh", "-F", "none", "-i", e.Key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none",
			"-p", strconv.Itoa(s.Port), "root@"+s.Host, "true")
	}
	m := min(n, 100)
	start, cpu0 := time.Now(), cpuChildren()
	for i := 0; i < m; i++ {
		if out, err := ssh().CombinedOutput(); err != nil {
			t.Fatalf("ssh: %v: %s", err, out)
		}
	}
	el, cpu := time.Since(start), cpuChildren()-cpu0
	t.Logf("OpenSSH ssh, sequential: %d connections in %v: %.0f conn/s, client CPU %.2f ms/connection",
		m, el.Round(time.Millisecond), float64(m)/el.Seconds(), float64(cpu.Microseconds())/1000/float64(m))
}

func cpuSelf() time.Duration     { return rusage(syscall.RUSAGE_SELF) }
func cpuChildren() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSSHDHost measures one host's round trips against a real OpenSSH
// sshd: connect, a probe-sized script in the connection's shell, a second
// script, close. "delayed-acks" leaves the kernel's delayed ACKs on, as
// before quickAck: its ns/op shows the time a host spent waiting on them.
func BenchmarkSSHDHost(b *testing.B) {
	e := sshdtest.New(b)
	s := e.Start(b, sshdtest.Options{Name: "host", MaxStartups: "100:30:200"})
	kh := e.WriteKnownHosts(b, false, s.KnownHostsLine(b, "ed25519"))
	tg := Target{Name: "host", Hop: Hop{User: "root", Address: s.Host, Port: s.Port}, IdentityFiles: []string{e.Key}, KnownHosts: []string{kh}}
	script := "i=0; while [ $i -lt 40 ]; do echo \"line=$i\"; i=$((i+1)); done\n"
	for _, delayed := range []bool{false, true} {
		name := "quickack"
		if delayed {
			name = "delayed-acks"
		}
		b.Run(name, func(b *testing.B) {
			d := NewDialer(DialerOptions{})
			d.delayedACKs = delayed
			defer d.Close()
			ctx := context.Background()
			for b.Loop() {
				c, err := d.Dial(ctx, tg)
				if err != nil {
					b.Fatal(err)
				}
				for range 2 {
					if res, err := c.RunScript(ctx, script); err != nil || res.ExitCode != 0 {
						b.Fatal(res, err)
					}
				}
				c.Close()
			}
		})
	}
}

// BenchmarkSudoHost: a host's three scripts (probe, claim, state) through
// sudo against real sshd and sudo, as the user fcsudo: "per-command" is
// what fleetclaim does (a session and a sudo per script), "one-sudo" runs
// the three in one sudo session (what a shell shared under sudo would cost
// at best), "root-per-command" and "root-shared-shell" log in as root
// (no sudo) with a session per script or the connection's shared shell.
func BenchmarkSudoHost(b *testing.B) {
	e := sshdtest.New(b)
	s := e.Start(b, sshdtest.Options{Name: "sudo", MaxStartups: "100:30:200"})
	kh := e.WriteKnownHosts(b, false, s.KnownHostsLine(b, "ed25519"))
	target := func(user string) Target {
		return Target{Name: "sudo", Hop: Hop{User: user, Address: s.Host, Port: s.Port}, IdentityFiles: []string{e.Key}, KnownHosts: []string{kh}}
	}
	script := "i=0; while [ $i -lt 40 ]; do echo \"line=$i\"; i=$((i+1)); done\n"
	cases := []struct {
		name, user string
		run        func(ctx context.Context, c *Client) error
	}{
		{"per-command", sshdtest.UserSudo, func(ctx context.Context, c *Client) error {
			p := Privileged(c, Become{Method: "sudo"}, "")
			for range 3 {
				if res, err := RunScript(ctx, p, script); err != nil || res.ExitCode != 0 {
					return fmt.Errorf("%v %v", res, err)
				}
			}
			return nil
		}},
		{"one-sudo", sshdtest.UserSudo, func(ctx context.Context, c *Client) error {
			p := Privileged(c, Become{Method: "sudo"}, "")
			res, err := RunScript(ctx, p, script+script+script)
			if err != nil || res.ExitCode != 0 {
				return fmt.Errorf("%v %v", res, err)
			}
			return nil
		}},
		{"root-per-command", "root", func(ctx context.Context, c *Client) error {
			for range 3 {
				if res, err := c.Run(ctx, "exec sh -s", strings.NewReader(script)); err != nil || res.ExitCode != 0 {
					return fmt.Errorf("%v %v", res, err)
				}
			}
			return nil
		}},
		{"root-shared-shell", "root", func(ctx context.Context, c *Client) error {
			for range 3 {
				if res, err := c.RunScript(ctx, script); err != nil || res.ExitCode != 0 {
					return fmt.Errorf("%v %v", res, err)
				}
			}
			return nil
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			d := NewDialer(DialerOptions{})
			defer d.Close()
			ctx := context.Background()
			for b.Loop() {
				c, err := d.Dial(ctx, target(tc.user))
				if err != nil {
					b.Fatal(err)
				}
				if err := tc.run(ctx, c); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkSudoScript: the cost of one more script on an open connection as
// fcsudo: through sudo in a session of its own (fleetclaim's way), or in
// the connection's shared shell (what each script after the first would
// cost in a shell shared under sudo).
func BenchmarkSudoScript(b *testing.B) {
	e := sshdtest.New(b)
	s := e.Start(b, sshdtest.Options{Name: "sudo1"})
	kh := e.WriteKnownHosts(b, false, s.KnownHostsLine(b, "ed25519"))
	tg := Target{Name: "sudo1", Hop: Hop{User: sshdtest.UserSudo, Address: s.Host, Port: s.Port}, IdentityFiles: []string{e.Key}, KnownHosts: []string{kh}}
	script := "i=0; while [ $i -lt 40 ]; do echo \"line=$i\"; i=$((i+1)); done\n"
	d := NewDialer(DialerOptions{})
	defer d.Close()
	ctx := context.Background()
	c, err := d.Dial(ctx, tg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name string
		r    Runner
	}{{"sudo-session", Privileged(c, Become{Method: "sudo"}, "")}, {"shared-shell", c}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if res, err := RunScript(ctx, tc.r, script); err != nil || res.ExitCode != 0 {
					b.Fatal(res, err)
				}
			}
		})
	}
}
