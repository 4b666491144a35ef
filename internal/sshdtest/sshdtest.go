// Package sshdtest starts real OpenSSH servers on loopback addresses for
// fleetclaim's tests: each with its own host keys and sshd_config, test users
// with and without sudo, authorized_keys, and an ssh-agent when asked for.
//
// It needs root (users, sudoers, privileged sshd) and /usr/sbin/sshd; without
// them every entry point skips the test. Servers listen on 127.0.0.x (x >= 2)
// and a kernel-chosen high port, and stop in t.Cleanup.
package sshdtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Test users. Every one logs in with Env.Key; PasswordUser also has a login
// password.
const (
	// UserSudo may run anything as anyone through sudo without a password.
	UserSudo = "fcsudo"
	// UserSudoPassword may run anything through sudo with SudoPassword.
	UserSudoPassword = "fcsudopw"
	// UserNoSudo has no sudo rights at all.
	UserNoSudo = "fcplain"
	// UserTTY may use sudo without a password, but only from a terminal
	// (Defaults:fctty requiretty).
	UserTTY = "fctty"
	// UserAgent is the unprivileged account other users may sudo -u to, like
	// Netdata's run-as user.
	UserAgent = "fcagent"
	// UserDoas may run anything as root through doas without a password,
	// once Env.Doas has written its rule; it has no sudo rights.
	UserDoas = "fcdoas"

	// SudoPassword is UserSudoPassword's login and sudo password.
	SudoPassword = "fc-sudo-pw-4a1b"
	// LoginPassword is UserNoSudo's login password, for password auth.
	LoginPassword = "fc-login-pw-9c2d"
	// KeyPassphrase protects Env.EncryptedKey.
	KeyPassphrase = "fc key passphrase"
)

// Env is a set of keys and users shared by the servers of one test.
type Env struct {
	// Dir holds keys, configs and authorized_keys; it is readable by the
	// test users (sshd reads authorized_keys as the user).
	Dir string
	// Key is an unencrypted ed25519 client key authorized for every user.
	Key string
	// EncryptedKey is an ed25519 key encrypted with KeyPassphrase,
	// authorized for every user; PassphraseFile holds its passphrase.
	EncryptedKey   string
	PassphraseFile string
	// AgentKey is authorized for every user; it is meant to be loaded into
	// an ssh-agent (StartAgent) and is not offered otherwise.
	AgentKey string
	// RSAKey is an unencrypted RSA client key authorized for every user.
	RSAKey string
	// CA signs host certificates (Options.HostCertificate).
	CA string
	// UserCA signs user certificates (SignUserKey) that servers started
	// with Options.UserCertificates trust.
	UserCA string

	t    TB
	mu   sync.Mutex
	used map[string]bool
}

// Require skips t unless it runs as root with OpenSSH's sshd, ssh-keygen and
// sudo installed.
func Require(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real-sshd tests need root")
	}
	for _, p := range []string{"/usr/sbin/sshd", "ssh-keygen", "useradd", "sudo"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("real-sshd tests need %s: %v", p, err)
		}
	}
}

// New prepares keys, users and sudoers rules, or skips t.
func New(t TB) *Env {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "fleetclaim-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Env{Dir: dir, t: t, used: map[string]bool{}}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(dir, "client")
	os.Mkdir(keyDir, 0o700)
	e.Key = filepath.Join(keyDir, "id_ed25519")
	e.EncryptedKey = filepath.Join(keyDir, "id_ed25519_enc")
	e.AgentKey = filepath.Join(keyDir, "id_agent")
	e.RSAKey = filepath.Join(keyDir, "id_rsa")
	e.CA = filepath.Join(keyDir, "host_ca")
	e.UserCA = filepath.Join(keyDir, "user_ca")
	e.PassphraseFile = filepath.Join(keyDir, "passphrase")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	gen := func(args ...string) {
		defer wg.Done()
		if err := run("ssh-keygen", append([]string{"-q", "-C", "fleetclaim-test"}, args...)...); err != nil {
			errs <- err
		}
	}
	wg.Add(6)
	go gen("-t", "ed25519", "-N", "", "-f", e.UserCA)
	go gen("-t", "ed25519", "-N", "", "-f", e.Key)
	go gen("-t", "ed25519", "-N", KeyPassphrase, "-f", e.EncryptedKey)
	go gen("-t", "ed25519", "-N", "", "-f", e.AgentKey)
	go gen("-t", "rsa", "-b", "2048", "-N", "", "-f", e.RSAKey)
	go gen("-t", "ed25519", "-N", "", "-f", e.CA)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.PassphraseFile, []byte(KeyPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := withLock(ensureUsers); err != nil {
		t.Fatal(err)
	}
	var auth bytes.Buffer
	for _, k := range []string{e.Key, e.EncryptedKey, e.AgentKey, e.RSAKey} {
		b, err := os.ReadFile(k + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		auth.Write(b)
	}
	akDir := filepath.Join(dir, "authorized_keys")
	os.Mkdir(akDir, 0o755)
	for _, u := range []string{"root", UserSudo, UserSudoPassword, UserNoSudo, UserTTY, UserAgent, UserDoas} {
		if err := os.WriteFile(filepath.Join(akDir, u), auth.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

const sudoers = `# fleetclaim test users (internal/sshdtest)
fcsudo ALL=(ALL:ALL) NOPASSWD: ALL
fcsudopw ALL=(ALL:ALL) ALL
fctty ALL=(ALL:ALL) NOPASSWD: ALL
Defaults:fctty requiretty
Defaults:fcsudopw passwd_tries=3, !lecture
`

// ensureUsers creates the test users and their sudoers rules when missing.
// It runs under a lock shared by every test process on the machine.
func ensureUsers() error {
	for _, u := range []string{UserSudo, UserSudoPassword, UserNoSudo, UserTTY, UserAgent, UserDoas} {
		if _, err := exec.Command("id", "-u", u).Output(); err == nil {
			continue
		}
		if err := run("useradd", "-m", "-s", "/bin/sh", u); err != nil {
			return err
		}
	}
	// Accounts with a locked password may not log in even with a key on
	// some configurations: give every user a password.
	pw := fmt.Sprintf("%s:%s\n%s:%s\n", UserSudoPassword, SudoPassword, UserNoSudo, LoginPassword)
	for _, u := range []string{UserSudo, UserTTY, UserAgent, UserDoas} {
		pw += u + ":" + randomHex(12) + "\n"
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(pw)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chpasswd: %v: %s", err, out)
	}
	path := "/etc/sudoers.d/fleetclaim-test"
	if b, err := os.ReadFile(path); err == nil && string(b) == sudoers {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(sudoers), 0o440); err != nil {
		return err
	}
	if err := run("visudo", "-c", "-q", "-f", tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// doasConf is OpenBSD doas's configuration file (Debian's opendoas).
const doasConf = "/etc/doas.conf"

// doasRule lets UserDoas run anything as root without a password.
const doasRule = "permit nopass " + UserDoas + " as root\n"

// Doas adds UserDoas's rule to /etc/doas.conf, or skips t without doas, and
// restores the file (removes it when there was none) in t.Cleanup.
func (e *Env) Doas(t TB) {
	t.Helper()
	if _, err := exec.LookPath("doas"); err != nil {
		t.Skipf("doas is not installed: %v", err)
	}
	var restore func() error
	err := withLock(func() error {
		old, err := os.ReadFile(doasConf)
		switch {
		case err == nil && strings.Contains(string(old), doasRule):
			restore = func() error { return nil }
			return nil
		case err == nil:
			restore = func() error { return writeAtomic(doasConf, old, 0o600) }
		case os.IsNotExist(err):
			restore = func() error { return os.Remove(doasConf) }
		default:
			return err
		}
		return writeAtomic(doasConf, append(old, doasRule...), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := withLock(restore); err != nil {
			t.Errorf("restoring %s: %v", doasConf, err)
		}
	})
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".fleetclaim-tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func withLock(f func() error) error { return WithFileLock("/run/fleetclaim-sshdtest.lock", f) }

// WithFileLock runs f holding an exclusive flock on the file at path (made
// when missing), so that test processes running at once change the
// machine's shared state (users, installs) one at a time.
func WithFileLock(path string, f func() error) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
	return f()
}

// Options configure one server.
type Options struct {
	// Name appears in logs and file names.
	Name string
	// HostKeys are the key types the server offers: "ed25519", "rsa",
	// "ecdsa". Default: ed25519 only.
	HostKeys []string
	// HostCertificate signs every host key with Env.CA.
	HostCertificate bool
	// MaxSessions, MaxStartups and MaxAuthTries set the sshd options of the
	// same name when non-zero.
	MaxSessions  int
	MaxStartups  string
	MaxAuthTries int
	// NoSFTP leaves the sftp subsystem out.
	NoSFTP bool
	// Password enables password authentication.
	Password bool
	// UserCertificates trusts user certificates signed by Env.UserCA
	// (TrustedUserCAKeys); with NoAuthorizedKeys they are the only way in.
	UserCertificates bool
	NoAuthorizedKeys bool
	// Extra lines are appended to sshd_config.
	Extra []string
	// Prefix, when set, is the command sshd runs under, e.g. nsenter into a
	// host's mount namespace (internal/agenttest): sshd and every
	// session then see that host's files.
	Prefix []string
}

// Server is one running sshd.
type Server struct {
	Name string
	// Host is the loopback address, Port the port, Addr host:port.
	Host string
	Port int
	Addr string
	// HostKeyFiles maps a key type to its private key file (the public key
	// is next to it, with .pub).
	HostKeyFiles map[string]string
	Config       string

	env    *Env
	prefix []string
	cmd    *exec.Cmd
	log    *lockedBuffer
	done   chan struct{}
	once   sync.Once
}

// Start starts a server and stops it in t.Cleanup.
func (e *Env) Start(t TB, o Options) *Server {
	t.Helper()
	if o.Name == "" {
		o.Name = "sshd"
	}
	if len(o.HostKeys) == 0 {
		o.HostKeys = []string{"ed25519"}
	}
	dir, err := os.MkdirTemp(e.Dir, o.Name+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Name: o.Name, env: e, HostKeyFiles: map[string]string{}, prefix: o.Prefix}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var genErr error
	for _, typ := range o.HostKeys {
		f := filepath.Join(dir, "host_"+typ)
		s.HostKeyFiles[typ] = f
		args := []string{"-q", "-N", "", "-t", typ, "-f", f, "-C", o.Name}
		if typ == "rsa" {
			args = append(args, "-b", "2048")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run("ssh-keygen", args...); err != nil {
				mu.Lock()
				genErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if genErr != nil {
		t.Fatal(genErr)
	}
	for attempt := 0; ; attempt++ {
		host := e.pickHost()
		port, err := freePort(host)
		if err != nil {
			t.Fatal(err)
		}
		s.Host, s.Port, s.Addr = host, port, net.JoinHostPort(host, strconv.Itoa(port))
		if o.HostCertificate {
			for _, f := range s.HostKeyFiles {
				if err := run("ssh-keygen", "-q", "-s", e.CA, "-I", o.Name, "-h", "-n", host+",["+host+"]:"+strconv.Itoa(port), f+".pub"); err != nil {
					t.Fatal(err)
				}
			}
		}
		s.Config = filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(s.Config, []byte(e.config(s, o)), 0o600); err != nil {
			t.Fatal(err)
		}
		err = s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("sshd %s: %v\n%s", o.Name, err, s.log.String())
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd %s (%s) log:\n%s", s.Name, s.Addr, s.Log())
		}
	})
	return s
}

func (e *Env) config(s *Server, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ListenAddress %s\n", s.Addr)
	for _, typ := range o.HostKeys {
		fmt.Fprintf(&b, "HostKey %s\n", s.HostKeyFiles[typ])
		if o.HostCertificate {
			fmt.Fprintf(&b, "HostCertificate %s-cert.pub\n", s.HostKeyFiles[typ])
		}
	}
	b.WriteString("PidFile none\nUsePAM yes\nStrictModes no\nPrintMotd no\nPrintLastLog no\nUseDNS no\n")
	b.WriteString("PermitRootLogin prohibit-password\nKbdInteractiveAuthentication no\nLogLevel VERBOSE\n")
	if o.NoAuthorizedKeys {
		b.WriteString("AuthorizedKeysFile none\n")
	} else {
		fmt.Fprintf(&b, "AuthorizedKeysFile %s/authorized_keys/%%u\n", e.Dir)
	}
	if o.UserCertificates {
		fmt.Fprintf(&b, "TrustedUserCAKeys %s.pub\n", e.UserCA)
	}
	if o.Password {
		b.WriteString("PasswordAuthentication yes\n")
	} else {
		b.WriteString("PasswordAuthentication no\n")
	}
	if o.MaxSessions > 0 {
		fmt.Fprintf(&b, "MaxSessions %d\n", o.MaxSessions)
	}
	if o.MaxStartups != "" {
		fmt.Fprintf(&b, "MaxStartups %s\n", o.MaxStartups)
	}
	if o.MaxAuthTries > 0 {
		fmt.Fprintf(&b, "MaxAuthTries %d\n", o.MaxAuthTries)
	}
	if !o.NoSFTP {
		if _, err := os.Stat("/usr/lib/openssh/sftp-server"); err == nil {
			b.WriteString("Subsystem sftp /usr/lib/openssh/sftp-server\n")
		} else {
			b.WriteString("Subsystem sftp internal-sftp\n")
		}
	}
	for _, l := range o.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// pickHost returns a loopback address in 127.0.0.2-127.0.0.254 that no other
// server of this Env uses. Servers of other test processes may share an
// address; their ports differ.
func (e *Env) pickHost() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		var b [2]byte
		rand.Read(b[:])
		x := 2 + int(binary.BigEndian.Uint16(b[:]))%253
		h := "127.0.0." + strconv.Itoa(x)
		if !e.used[h] {
			e.used[h] = true
			return h
		}
	}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	s.log = &lockedBuffer{}
	argv := append(append([]string{}, s.prefix...), "/usr/sbin/sshd", "-D", "-e", "-f", s.Config)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	s.once = sync.Once{}
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("sshd exited: %v", s.cmd.ProcessState)
		default:
		}
		if banner(s.Addr) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("sshd did not answer on %s", s.Addr)
}

func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// Stop stops the server; connections already open keep their session
// processes until they close.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Log returns what sshd wrote so far.
func (s *Server) Log() string { return s.log.String() }

// PublicKey returns the public key line (type, base64) of the host key of
// the given type, or of the certificate when cert is set.
func (s *Server) PublicKey(t TB, typ string) string {
	t.Helper()
	b, err := os.ReadFile(s.HostKeyFiles[typ] + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	return f[0] + " " + f[1]
}

// KnownHostsLine returns a plain known_hosts line for the host key of type
// typ, in OpenSSH's "[host]:port" form.
func (s *Server) KnownHostsLine(t TB, typ string) string {
	return fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, s.PublicKey(t, typ))
}

// WriteKnownHosts writes lines to a new file in the Env's directory and, when
// hashed is set, hashes it with ssh-keygen -H as OpenSSH's HashKnownHosts
// does. It returns the file's path.
func (e *Env) WriteKnownHosts(t TB, hashed bool, lines ...string) string {
	t.Helper()
	f, err := os.CreateTemp(e.Dir, "known_hosts-")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Join(lines, "\n") + "\n")
	f.Close()
	if hashed {
		if err := run("ssh-keygen", "-q", "-H", "-f", f.Name()); err != nil {
			t.Fatal(err)
		}
		os.Remove(f.Name() + ".old")
	}
	return f.Name()
}

// SignUserKey signs the public key of the private key file key with
// Env.UserCA for the given principals (login names) and returns the
// certificate file, written next to the key as KEY-cert.pub unless cert
// names another path.
func (e *Env) SignUserKey(t TB, key, cert string, principals ...string) string {
	t.Helper()
	dir := t.TempDir()
	pub := filepath.Join(dir, "key.pub")
	b, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run("ssh-keygen", "-q", "-s", e.UserCA, "-I", "fleetclaim-test", "-n", strings.Join(principals, ","), pub); err != nil {
		t.Fatal(err)
	}
	if cert == "" {
		cert = key + "-cert.pub"
	}
	c, err := os.ReadFile(filepath.Join(dir, "key-cert.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, c, 0o644); err != nil {
		t.Fatal(err)
	}
	return cert
}

// CALine returns a @cert-authority known_hosts line trusting Env.CA for
// pattern.
func (e *Env) CALine(t TB, pattern string) string {
	t.Helper()
	b, err := os.ReadFile(e.CA + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	return "@cert-authority " + pattern + " " + f[0] + " " + f[1]
}

// StartAgent starts an ssh-agent on a socket in the Env's directory, loads
// keys into it and stops it in t.Cleanup. It returns the socket path.
func (e *Env) StartAgent(t TB, keys ...string) string {
	t.Helper()
	sock := filepath.Join(e.Dir, "agent-"+randomHex(4)+".sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	var log lockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent did not start: %s", log.String())
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

// Silent listens on a loopback address, accepts TCP connections and never
// sends a byte: a host whose sshd hangs before its banner. It returns the
// address and closes the listener in t.Cleanup.
func (e *Env) Silent(t TB) string {
	t.Helper()
	return Silent(t, e.pickHost())
}

// Silent is Env.Silent without an Env (no root needed).
func Silent(t TB, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

// Proxy forwards TCP connections to target until Freeze is called; from then
// on it stops forwarding in both directions without closing anything, like a
// host that vanished from the network.
type Proxy struct {
	Addr   string
	frozen chan struct{}
	once   sync.Once
}

// NewProxy starts a Proxy on a loopback address; it stops in t.Cleanup.
func NewProxy(t TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), frozen: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		cancel()
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var d net.Dialer
				u, err := d.DialContext(ctx, "tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				mu.Lock()
				conns = append(conns, c, u)
				mu.Unlock()
				go p.pipe(ctx, u, c)
				p.pipe(ctx, c, u)
				<-ctx.Done()
			}()
		}
	}()
	return p
}

func (p *Proxy) pipe(ctx context.Context, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			<-ctx.Done()
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze stops all forwarding.
func (p *Proxy) Freeze() { p.once.Do(func() { close(p.frozen) }) }

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TB is what the harness needs of its caller: *testing.T and *testing.B
// have it, and so may a program that runs real servers outside a test
// (cmd/fleetbench), failing with Fatal and cleaning up in its own time.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
	Logf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	TempDir() string
}
