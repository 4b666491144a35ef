package remote

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
	"golang.org/x/crypto/ssh"
)

// fleet is the set of real OpenSSH servers the tests share.
type fleet struct {
	env *sshdtest.Env
	// main offers ed25519, RSA and ECDSA host keys and password auth.
	main *sshdtest.Server
	// rsa256 offers only an RSA host key, signed with rsa-sha2-256 only.
	rsa256 *sshdtest.Server
	// cert presents host certificates signed by env.CA.
	cert *sshdtest.Server
	// max2 has MaxSessions 2, nosftp no sftp subsystem.
	max2, nosftp *sshdtest.Server
	// jump is a jump host in front of behind (MaxStartups 4:100:4).
	jump, behind *sshdtest.Server
	// known is a known_hosts file with every server's keys.
	known string
}

func startFleet(t *testing.T) *fleet {
	e := sshdtest.New(t)
	f := &fleet{env: e}
	var wg sync.WaitGroup
	start := func(p **sshdtest.Server, o sshdtest.Options) {
		wg.Add(1)
		go func() { defer wg.Done(); *p = e.Start(t, o) }()
	}
	start(&f.main, sshdtest.Options{Name: "main", HostKeys: []string{"ed25519", "rsa", "ecdsa"}, Password: true})
	start(&f.rsa256, sshdtest.Options{Name: "rsa256", HostKeys: []string{"rsa"}, Extra: []string{"HostKeyAlgorithms rsa-sha2-256"}})
	start(&f.cert, sshdtest.Options{Name: "cert", HostCertificate: true})
	start(&f.max2, sshdtest.Options{Name: "max2", MaxSessions: 2})
	start(&f.nosftp, sshdtest.Options{Name: "nosftp", NoSFTP: true})
	start(&f.jump, sshdtest.Options{Name: "jump"})
	start(&f.behind, sshdtest.Options{Name: "behind", MaxStartups: "4:100:4"})
	wg.Wait()
	var lines []string
	for _, s := range []*sshdtest.Server{f.main, f.rsa256, f.max2, f.nosftp, f.jump, f.behind} {
		for typ := range s.HostKeyFiles {
			lines = append(lines, s.KnownHostsLine(t, typ))
		}
	}
	f.known = e.WriteKnownHosts(t, false, lines...)
	return f
}

func (f *fleet) target(s *sshdtest.Server, user string) Target {
	return Target{
		Name:           s.Name,
		Hop:            Hop{User: user, Address: s.Host, Port: s.Port},
		IdentityFiles:  []string{f.env.Key},
		KnownHosts:     []string{f.known},
		ConnectTimeout: 5 * time.Second,
	}
}

// dialMany connects to tg n times at once, each running `true`, and
// reports every failure.
func dialMany(t *testing.T, d *Dialer, tg Target, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := dialRun(t, d, tg, "true")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func dialRun(t *testing.T, d *Dialer, tg Target, cmd string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, tg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	res, err := c.Run(ctx, cmd, nil)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("%q exited %d: %s", cmd, res.ExitCode, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}

func wantCategory(t *testing.T, err error, cat Category, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want category %s", cat)
	}
	if got := CategoryOf(err); got != cat {
		t.Fatalf("category %q, want %q: %v", got, cat, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error lacks %q: %v", c, err)
		}
	}
}

func fingerprint(t *testing.T, s *sshdtest.Server, typ string) string {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.PublicKey(t, typ)))
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(pk)
}

// TestSSHD runs everything against real OpenSSH servers.
func TestSSHD(t *testing.T) {
	f := startFleet(t)
	e := f.env

	t.Run("HostKeyTypes", func(t *testing.T) {
		t.Parallel()
		for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
			for _, hashed := range []bool{false, true} {
				// Only this type is known: the client must ask the server for
				// it, or verification fails.
				kh := e.WriteKnownHosts(t, hashed, f.main.KnownHostsLine(t, typ))
				if hashed {
					b, _ := os.ReadFile(kh)
					if !strings.HasPrefix(string(b), "|1|") {
						t.Fatalf("ssh-keygen -H did not hash: %s", b)
					}
				}
				tg := f.target(f.main, "root")
				tg.KnownHosts = []string{kh}
				var seen string
				d := NewDialer(DialerOptions{})
				tg2 := tg
				out, err := dialRun(t, d, tg2, "echo ok")
				if err != nil || out != "ok" {
					t.Errorf("%s hashed=%v: %q %v", typ, hashed, out, err)
				}
				_ = seen
				d.Close()
			}
		}
	})

	t.Run("RSASHA256", func(t *testing.T) {
		t.Parallel()
		kh := e.WriteKnownHosts(t, true, f.rsa256.KnownHostsLine(t, "rsa"))
		tg := f.target(f.rsa256, "root")
		tg.KnownHosts = []string{kh}
		d := NewDialer(DialerOptions{})
		defer d.Close()
		if _, err := dialRun(t, d, tg, "true"); err != nil {
			t.Fatal(err)
		}
		// The RSA client key signs with SHA-2 too.
		tg.IdentityFiles = []string{e.RSAKey}
		if _, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true"); err != nil {
			t.Fatalf("RSA client key: %v", err)
		}
	})

	t.Run("SeveralFiles", func(t *testing.T) {
		t.Parallel()
		other := e.WriteKnownHosts(t, false, f.jump.KnownHostsLine(t, "ed25519"))
		mine := e.WriteKnownHosts(t, true, f.max2.KnownHostsLine(t, "ed25519"))
		tg := f.target(f.max2, "root")
		tg.KnownHosts = []string{"/nonexistent/known_hosts", other, mine}
		if _, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.main, "root")
		tg.KnownHosts = []string{e.WriteKnownHosts(t, false, f.jump.KnownHostsLine(t, "ed25519"))}
		_, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true")
		wantCategory(t, err, CatHostKeyUnknown, "no host key is known", "accept-new")
	})

	t.Run("Changed", func(t *testing.T) {
		t.Parallel()
		// main's address with jump's key: what an impersonator looks like.
		line := fmt.Sprintf("[%s]:%d %s", f.main.Host, f.main.Port, f.jump.PublicKey(t, "ed25519"))
		for _, hashed := range []bool{false, true} {
			for _, policy := range []string{"strict", "accept-new"} {
				tg := f.target(f.main, "root")
				tg.HostKeyPolicy = policy
				tg.KnownHosts = []string{e.WriteKnownHosts(t, hashed, line)}
				_, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true")
				wantCategory(t, err, CatHostKeyChanged, "REMOTE HOST IDENTIFICATION HAS CHANGED",
					"expected ssh-ed25519 key "+fingerprint(t, f.jump, "ed25519"),
					"received ssh-ed25519 key "+fingerprint(t, f.main, "ed25519"))
			}
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.main, "root")
		tg.KnownHosts = []string{e.WriteKnownHosts(t, false,
			f.main.KnownHostsLine(t, "ed25519"),
			"@revoked * "+f.main.PublicKey(t, "ed25519"))}
		_, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true")
		wantCategory(t, err, CatHostKeyRevoked, "@revoked")
	})

	t.Run("CertAuthority", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.cert, "root")
		tg.KnownHosts = []string{e.WriteKnownHosts(t, false, e.CALine(t, "127.0.0.*"))}
		if _, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true"); err != nil {
			t.Fatal(err)
		}
		// Without the CA line the host is unknown.
		tg.KnownHosts = []string{e.WriteKnownHosts(t, false, f.main.KnownHostsLine(t, "ed25519"))}
		_, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true")
		wantCategory(t, err, CatHostKeyUnknown)
	})

	t.Run("AcceptNew", func(t *testing.T) {
		t.Parallel()
		kh := e.Dir + "/accept-new/known_hosts"
		tg := f.target(f.main, "root")
		tg.KnownHosts = []string{kh, f.known + ".absent"}
		tg.HostKeyPolicy = "accept-new"
		d := NewDialer(DialerOptions{})
		for i := 0; i < 2; i++ {
			if _, err := dialRun(t, d, tg, "true"); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(kh)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("[%s]:%d ", f.main.Host, f.main.Port)
		if !strings.HasPrefix(string(b), want) || strings.Count(string(b), "\n") != 1 {
			t.Fatalf("known_hosts after accept-new:\n%s", b)
		}
		// OpenSSH reads what was written, and so does a strict run.
		out, err := exec.Command("ssh-keygen", "-F", want[:len(want)-1], "-f", kh).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen -F: %v: %s", err, out)
		}
		tg.HostKeyPolicy = "strict"
		if _, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.main, "root")
		tg.KnownHosts = nil
		tg.HostKeyPolicy = "off"
		if _, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Agent", func(t *testing.T) {
		t.Parallel()
		sock := e.StartAgent(t, e.AgentKey)
		d := NewDialer(DialerOptions{AgentSocket: sock})
		defer d.Close()
		tg := f.target(f.main, sshdtest.UserSudo)
		tg.IdentityFiles = nil
		out, err := dialRun(t, d, tg, "id -un")
		if err != nil || out != sshdtest.UserSudo {
			t.Fatalf("%q %v", out, err)
		}
		// Many handshakes at once share the agent.
		dialMany(t, d, tg, 8)
	})

	t.Run("EncryptedKey", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.main, sshdtest.UserNoSudo)
		tg.IdentityFiles = []string{e.EncryptedKey}
		if _, err := dialRun(t, NewDialer(DialerOptions{PassphraseFile: e.PassphraseFile}), tg, "true"); err != nil {
			t.Fatalf("passphrase file: %v", err)
		}
		os.Setenv("FLEETCLAIM_TEST_PASSPHRASE", sshdtest.KeyPassphrase)
		defer os.Unsetenv("FLEETCLAIM_TEST_PASSPHRASE")
		if _, err := dialRun(t, NewDialer(DialerOptions{PassphraseEnv: "FLEETCLAIM_TEST_PASSPHRASE"}), tg, "true"); err != nil {
			t.Fatalf("passphrase env: %v", err)
		}
		var asked atomic.Int32
		d := NewDialer(DialerOptions{Passphrase: func(string) ([]byte, error) {
			asked.Add(1)
			return []byte(sshdtest.KeyPassphrase), nil
		}})
		for i := 0; i < 3; i++ {
			if _, err := dialRun(t, d, tg, "true"); err != nil {
				t.Fatal(err)
			}
		}
		if asked.Load() != 1 {
			t.Errorf("passphrase asked %d times, want once", asked.Load())
		}
		_, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true")
		wantCategory(t, err, CatAuth, "is encrypted and no passphrase source", "no key was offered", "the server accepts publickey,password")
		bad := e.Dir + "/bad-passphrase"
		os.WriteFile(bad, []byte("wrong\n"), 0o600)
		_, err = dialRun(t, NewDialer(DialerOptions{PassphraseFile: bad}), tg, "true")
		wantCategory(t, err, CatAuth, "wrong passphrase")
	})

	t.Run("AuthRejected", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.main, "nosuchuser")
		_, err := dialRun(t, NewDialer(DialerOptions{}), tg, "true")
		wantCategory(t, err, CatAuth, "permission denied for nosuchuser", "the server accepts publickey,password",
			"offered "+e.Key, "password authentication was not enabled")
	})

	t.Run("Password", func(t *testing.T) {
		t.Parallel()
		var asked atomic.Int32
		d := NewDialer(DialerOptions{PasswordAuth: true, Password: func(string) ([]byte, error) {
			asked.Add(1)
			return []byte(sshdtest.LoginPassword), nil
		}})
		tg := f.target(f.main, sshdtest.UserNoSudo)
		tg.IdentityFiles = nil
		for i := 0; i < 3; i++ {
			out, err := dialRun(t, d, tg, "id -un")
			if err != nil || out != sshdtest.UserNoSudo {
				t.Fatalf("%q %v", out, err)
			}
		}
		if asked.Load() != 1 {
			t.Errorf("password asked %d times, want once", asked.Load())
		}
		d = NewDialer(DialerOptions{PasswordAuth: true, Password: func(string) ([]byte, error) { return []byte("wrong"), nil }})
		_, err := dialRun(t, d, tg, "true")
		wantCategory(t, err, CatAuth, "attempted methods", "password")
	})

	t.Run("Jump", func(t *testing.T) {
		t.Parallel()
		d := NewDialer(DialerOptions{JumpHandshakes: 2})
		defer d.Close()
		var mu sync.Mutex
		cur, peak := 0, 0
		via := map[string]int{}
		d.handshakes = func(jump string, delta int) {
			mu.Lock()
			via[jump] += max(delta, 0)
			cur += delta
			if cur > peak {
				peak = cur
			}
			mu.Unlock()
		}
		tg := f.target(f.behind, "root")
		tg.Jump = []Hop{{User: sshdtest.UserSudo, Address: f.jump.Host, Port: f.jump.Port}}
		dialMany(t, d, tg, 12)
		if peak > 2 || peak == 0 {
			t.Errorf("peak concurrent handshakes through the jump host: %d, want 1..2", peak)
		}
		if n := strings.Count(f.jump.Log(), "Accepted publickey for "+sshdtest.UserSudo); n != 1 {
			t.Errorf("jump host saw %d logins, want one shared connection", n)
		}
		if via[f.jump.Addr] != 12 {
			t.Errorf("handshakes through the jump host: %v", via)
		}
		// A chain: jump, then main, then behind.
		tg.Jump = append(tg.Jump, Hop{Address: f.main.Host, Port: f.main.Port})
		if _, err := dialRun(t, d, tg, "true"); err != nil {
			t.Fatalf("chain: %v", err)
		}
		if via[f.main.Addr] != 1 || via[f.jump.Addr] != 13 {
			t.Errorf("handshakes through the chain: %v", via)
		}
		// A refused target behind the jump host.
		tg.Jump = tg.Jump[:1]
		tg.Port = 1
		_, err := dialRun(t, d, tg, "true")
		wantCategory(t, err, CatConnectRefused, "through")
		// A name the jump host cannot resolve: OpenSSH answers with
		// getaddrinfo's text (jumpDialCategory).
		tg.Address, tg.Port = "fleetclaim-test.invalid", f.behind.Port
		_, err = dialRun(t, d, tg, "true")
		wantCategory(t, err, CatDNS, "through", "Name or service not known")
		// A jump host that is down.
		tg = f.target(f.behind, "root")
		tg.Jump = []Hop{{User: "root", Address: "127.0.0.1", Port: 1}}
		_, err = dialRun(t, d, tg, "true")
		wantCategory(t, err, CatConnectRefused, "jump host 127.0.0.1:1")
	})

	// JumpImpersonation: a jump host, or a target behind one, that presents
	// a key other than known_hosts says is refused before fleetclaim logs in
	// to it, so nothing (a claim token least of all) ever reaches it.
	t.Run("JumpImpersonation", func(t *testing.T) {
		t.Parallel()
		jump := e.Start(t, sshdtest.Options{Name: "jump-imp"})
		behind := e.Start(t, sshdtest.Options{Name: "behind-imp"})
		other := f.main.PublicKey(t, "ed25519") // a key neither server has
		wrong := func(s *sshdtest.Server) string { return fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, other) }
		cases := []struct {
			name     string
			known    []string
			culprit  *sshdtest.Server
			loggedIn map[*sshdtest.Server]int // logins each server accepted
		}{
			{"the jump host", []string{wrong(jump), behind.KnownHostsLine(t, "ed25519")}, jump,
				map[*sshdtest.Server]int{jump: 0, behind: 0}},
			{"the target behind it", []string{jump.KnownHostsLine(t, "ed25519"), wrong(behind)}, behind,
				map[*sshdtest.Server]int{jump: 1, behind: 0}},
		}
		for _, c := range cases {
			before := map[*sshdtest.Server]int{}
			for s := range c.loggedIn {
				before[s] = strings.Count(s.Log(), "Accepted publickey")
			}
			tg := f.target(behind, "root")
			tg.KnownHosts = []string{e.WriteKnownHosts(t, false, c.known...)}
			tg.Jump = []Hop{{User: "root", Address: jump.Host, Port: jump.Port}}
			d := NewDialer(DialerOptions{})
			_, err := dialRun(t, d, tg, "echo reached")
			d.Close()
			wantCategory(t, err, CatHostKeyChanged, fmt.Sprintf("%s:%d", c.culprit.Host, c.culprit.Port))
			// A login the server accepted reaches its log through a pipe:
			// wait for the expected ones. An impostor never sees a login at
			// all (the key is refused during the key exchange, before any
			// authentication), so a count of zero needs no wait.
			for s, want := range c.loggedIn {
				got := 0
				for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					got = strings.Count(s.Log(), "Accepted publickey") - before[s]
					if got >= want || time.Now().After(end) {
						break
					}
				}
				if got != want {
					t.Errorf("%s: %s accepted %d logins, want %d", c.name, s.Name, got, want)
				}
			}
		}
	})

	t.Run("MaxSessions", func(t *testing.T) {
		t.Parallel()
		for _, limit := range []int{2, 0} {
			tg := f.target(f.max2, "root")
			tg.MaxSessions = limit
			c, err := NewDialer(DialerOptions{}).Dial(context.Background(), tg)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := c.Run(context.Background(), "sleep 0.2; echo ok", nil)
					if err == nil && strings.TrimSpace(string(res.Stdout)) != "ok" {
						err = fmt.Errorf("output %q", res.Stdout)
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("limit %d: %v", limit, err)
				}
			}
			if c.Limit() > 2 {
				t.Errorf("limit %d: session limit is still %d after refusals", limit, c.Limit())
			}
			c.Close()
		}
	})

	t.Run("Silent", func(t *testing.T) {
		t.Parallel()
		addr := e.Silent(t)
		tg := f.target(f.main, "root")
		host, port := splitAddr(t, addr)
		tg.Address, tg.Port = host, port
		tg.ConnectTimeout = 500 * time.Millisecond
		_, err := NewDialer(DialerOptions{}).Dial(context.Background(), tg)
		wantCategory(t, err, CatHandshakeTimeout, "no complete SSH handshake within 500ms")
		// Behind a jump host, the channel has no deadline of its own.
		tg.Jump = []Hop{{User: "root", Address: f.jump.Host, Port: f.jump.Port}}
		tg.ConnectTimeout = 2 * time.Second
		d := NewDialer(DialerOptions{})
		defer d.Close()
		if _, err := d.Dial(context.Background(), tg); CategoryOf(err) != CatHandshakeTimeout {
			t.Errorf("through a jump host: %v", err)
		}
	})

	t.Run("Stopped", func(t *testing.T) {
		t.Parallel()
		s := e.Start(t, sshdtest.Options{Name: "stopped"})
		s.Stop()
		tg := f.target(s, "root")
		_, err := NewDialer(DialerOptions{}).Dial(context.Background(), tg)
		wantCategory(t, err, CatConnectRefused, "connection refused")
	})

	t.Run("Keepalive", func(t *testing.T) {
		t.Parallel()
		p := sshdtest.NewProxy(t, f.main.Addr)
		tg := f.target(f.main, "root")
		host, port := splitAddr(t, p.Addr)
		tg.Address, tg.Port = host, port
		tg.KnownHosts = []string{e.WriteKnownHosts(t, false, fmt.Sprintf("[%s]:%d %s", host, port, f.main.PublicKey(t, "ed25519")))}
		tg.KeepaliveInterval = 200 * time.Millisecond
		c, err := NewDialer(DialerOptions{}).Dial(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() { time.Sleep(300 * time.Millisecond); p.Freeze() }()
		// Without keepalives the command would end after 20s, successfully.
		_, err = c.Run(context.Background(), "sleep 20", nil)
		wantCategory(t, err, CatConnectionLost, "stopped answering")
	})

	t.Run("Privilege", func(t *testing.T) {
		t.Parallel()
		d := NewDialer(DialerOptions{})
		defer d.Close()
		conn := func(user string) *Client {
			c, err := d.Dial(context.Background(), f.target(f.main, user))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		ctx := context.Background()
		script := "read a; read b; echo \"$(id -un) $a $b\"; echo to-stderr >&2; exit 3"
		check := func(name string, r Runner, wantUser string) {
			t.Helper()
			res, err := r.Run(ctx, script, strings.NewReader("one\ntwo\n"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := strings.TrimSpace(string(res.Stdout)); !strings.HasPrefix(got, wantUser+" one two") || res.ExitCode != 3 {
				t.Errorf("%s: stdout %q exit %d stderr %q", name, got, res.ExitCode, res.Stderr)
			}
			if !strings.Contains(string(res.Stdout)+string(res.Stderr), "to-stderr") || strings.Contains(string(res.Stdout)+string(res.Stderr), "fleetclaim-") {
				t.Errorf("%s: stderr %q stdout %q", name, res.Stderr, res.Stdout)
			}
		}
		sudo := conn(sshdtest.UserSudo)
		check("sudo -n", Privileged(sudo, Become{Method: "sudo"}, ""), "root")
		check("sudo -n -u", Privileged(sudo, Become{Method: "sudo"}, sshdtest.UserAgent), sshdtest.UserAgent)
		check("none", Privileged(sudo, Become{Method: "none"}, ""), sshdtest.UserSudo)

		pw := conn(sshdtest.UserSudoPassword)
		check("sudo -S", Privileged(pw, Become{Method: "sudo", Password: []byte(sshdtest.SudoPassword)}, ""), "root")
		check("sudo -S -u", Privileged(pw, Become{Method: "sudo", Password: []byte(sshdtest.SudoPassword)}, sshdtest.UserAgent), sshdtest.UserAgent)
		secret := "wrong-" + sshdtest.SudoPassword
		_, err := Privileged(pw, Become{Method: "sudo", Password: []byte(secret)}, "").Run(ctx, "echo SHOULD-NOT-RUN", strings.NewReader("echo script\n"))
		wantCategory(t, err, CatSudoPassword, "not accepted")
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the password leaked into the error: %v", err)
		}
		_, err = Privileged(conn(sshdtest.UserSudoPassword), Become{Method: "sudo"}, "").Run(ctx, "true", nil)
		wantCategory(t, err, CatNoPrivilege, "wants a password")

		_, err = Privileged(conn(sshdtest.UserNoSudo), Become{Method: "sudo"}, "").Run(ctx, "true", nil)
		wantCategory(t, err, CatNoPrivilege)
		_, err = Privileged(conn(sshdtest.UserNoSudo), Become{Method: "sudo", Password: []byte(sshdtest.LoginPassword)}, "").Run(ctx, "true", nil)
		wantCategory(t, err, CatNoPrivilege, "may not use sudo")
		_, err = Privileged(sudo, Become{Method: "doas"}, "").Run(ctx, "true", nil)
		if _, lerr := exec.LookPath("doas"); lerr == nil {
			// No doas.conf, or one without a rule for the login user.
			wantCategory(t, err, CatNoPrivilege)
			if msg := err.Error(); !strings.Contains(msg, "doas is not enabled") && !strings.Contains(msg, "may not use doas") {
				t.Errorf("doas refusal %q says neither", msg)
			}
		} else {
			wantCategory(t, err, CatNoPrivilege, "doas is not installed")
		}

		// requiretty: the first command finds out, later ones go straight
		// to a terminal; stdin still reaches the command byte for byte.
		tty := Privileged(conn(sshdtest.UserTTY), Become{Method: "sudo"}, "")
		for i := 0; i < 2; i++ {
			res, err := tty.Run(ctx, "id -un; [ -t 2 ] && echo has-tty; od -An -c | tr -d ' \\n'", strings.NewReader("a\x04b\x03c\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(res.Stdout); !strings.Contains(got, "root") || !strings.Contains(got, "has-tty") || !strings.Contains(got, `a004b003c\r\n`) {
				t.Errorf("requiretty run %d: %q", i, got)
			}
		}
		if out, err := Privileged(conn(sshdtest.UserTTY), Become{Method: "sudo"}, "").Run(ctx, "id -un", nil); err != nil || strings.TrimSpace(string(out.Stdout)) != "root" {
			t.Errorf("requiretty without stdin: %q %v", out.Stdout, err)
		}
	})

	t.Run("Upload", func(t *testing.T) {
		t.Parallel()
		d := NewDialer(DialerOptions{})
		defer d.Close()
		ctx := context.Background()
		content := []byte("[global]\n    token = not-a-real-token\n\x00\xff binary tail\n")
		for _, tc := range []struct {
			name   string
			srv    *sshdtest.Server
			user   string
			become Become
		}{
			{"root-sftp", f.main, "root", Become{}},
			{"root-exec", f.nosftp, "root", Become{}},
			{"sudo-sftp", f.main, sshdtest.UserSudoPassword, Become{Method: "sudo", Password: []byte(sshdtest.SudoPassword)}},
			{"sudo-exec", f.nosftp, sshdtest.UserSudo, Become{Method: "sudo"}},
		} {
			c, err := d.Dial(ctx, f.target(tc.srv, tc.user))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			root := Privileged(c, tc.become, "")
			res, err := root.Run(ctx, "umask 022; mktemp -d /etc/fleetclaim-test.XXXXXX", nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := strings.TrimSpace(string(res.Stdout))
			defer root.Run(ctx, "rm -rf "+dir, nil)
			dst := dir + "/claim conf's.conf"
			var p Pushed
			if err := p.Upload(ctx, c, root, dst, content, 0o640, sshdtest.UserAgent+":"+sshdtest.UserAgent); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			q, _ := Quote(dst)
			res, err = root.Run(ctx, "stat -c '%U:%G %a %s' "+q+"; sha256sum < "+q+"; ls -A "+dir+"; ls -d /tmp/fleetclaim.* 2>/dev/null | wc -l", nil)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(content)
			want := fmt.Sprintf("%s:%s 640 %d\n%x  -\nclaim conf's.conf\n", sshdtest.UserAgent, sshdtest.UserAgent, len(content), sum)
			if got := string(res.Stdout); !strings.HasPrefix(got, want) {
				t.Errorf("%s: on the host:\n%s\nwant:\n%s", tc.name, got, want)
			}
			if err := p.Cleanup(ctx); err != nil {
				t.Fatal(err)
			}
			res, _ = root.Run(ctx, "ls -A "+dir, nil)
			if len(res.Stdout) != 0 {
				t.Errorf("%s: left after cleanup: %s", tc.name, res.Stdout)
			}
		}
		if !strings.Contains(f.nosftp.Log(), "subsystem not found") || !strings.Contains(f.main.Log(), "subsystem 'sftp'") {
			t.Errorf("sftp was not tried where it exists, or was where it does not")
		}
		// A destination the login user cannot write, with no privilege.
		c, err := d.Dial(ctx, f.target(f.main, sshdtest.UserNoSudo))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = Upload(ctx, c, c, "/etc/fleetclaim-denied.conf", content, 0o600, "")
		wantCategory(t, err, CatUpload, "cannot write a temporary file next to /etc/fleetclaim-denied.conf")
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		tg := f.target(f.main, sshdtest.UserSudo)
		c, err := NewDialer(DialerOptions{}).Dial(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		// Not cancelled, the command would end after 41.5s, successfully.
		_, err = c.Run(ctx, "sleep 41.5", nil)
		wantCategory(t, err, CatCanceled)
		waitGone(t, "sleep 41.5")
		// A canceled dial closes its socket.
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		_, err = NewDialer(DialerOptions{}).Dial(ctx, tg)
		wantCategory(t, err, CatCanceled)
	})
}

func splitAddr(t *testing.T, addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	var port int
	fmt.Sscan(addr[i+1:], &port)
	return addr[:i], port
}

// waitGone waits until no process's command line contains s.
func waitGone(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if !running(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%q still runs on the host after cancellation", s)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether a process's command line contains s.
func running(s string) bool {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			return true
		}
	}
	return false
}
