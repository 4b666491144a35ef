package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// inProcServer is an x/crypto/ssh server on loopback for tests without
// root: it completes the handshake with its own host key, authenticates
// with auth, and answers every session request with exit status 0.
type inProcServer struct {
	addr    string
	hostKey ssh.Signer
	mu      sync.Mutex
	offered []string // public keys (authorized_keys format) offered to it
}

func newInProcServer(t *testing.T, auth func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error)) *inProcServer {
	t.Helper()
	s := &inProcServer{hostKey: newSigner(t)}
	cfg := &ssh.ServerConfig{}
	cfg.PublicKeyCallback = func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		s.mu.Lock()
		s.offered = append(s.offered, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))))
		s.mu.Unlock()
		return auth(c, k)
	}
	cfg.AddHostKey(s.hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
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
				sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				defer sc.Close()
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					ch, creqs, err := nc.Accept()
					if err != nil {
						continue
					}
					go func() {
						for r := range creqs {
							r.Reply(r.Type == "exec", nil)
							if r.Type == "exec" {
								ch.SendRequest("exit-status", false, ssh.Marshal(struct{ C uint32 }{0}))
								ch.Close()
							}
						}
					}()
				}
			}()
		}
	}()
	return s
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testKey is a key written to a file (and FILE.pub).
type testKey struct {
	ssh.Signer
	priv ed25519.PrivateKey
}

// writeKey writes a private key file (and FILE.pub) and returns its path.
func writeKey(t *testing.T, dir, name string) (string, testKey) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	os.WriteFile(f+".pub", ssh.MarshalAuthorizedKey(s.PublicKey()), 0o644)
	return f, testKey{s, priv}
}

func (s *inProcServer) knownHosts(t *testing.T, name string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	line := name + " " + string(ssh.MarshalAuthorizedKey(s.hostKey.PublicKey()))
	if err := os.WriteFile(f, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (s *inProcServer) target(t *testing.T) Target {
	host, port, _ := net.SplitHostPort(s.addr)
	var p int
	fmt.Sscan(port, &p)
	return Target{Name: "inproc", Hop: Hop{User: "u", Address: host, Port: p}, ConnectTimeout: 5 * time.Second}
}

func dialClose(t *testing.T, d *Dialer, tg Target) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, tg)
	if err != nil {
		return err
	}
	_, err = c.Run(ctx, "true", nil)
	c.Close()
	return err
}

func acceptKey(keys ...ssh.PublicKey) func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) {
	return func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		for _, w := range keys {
			if bytes.Equal(w.Marshal(), k.Marshal()) {
				return nil, nil
			}
		}
		return nil, errors.New("no")
	}
}

// TestHostKeyAliasLooksUpTheAlias: with HostKeyAlias the key is looked up
// (and recorded) under the alias alone, not the address, as OpenSSH does.
func TestHostKeyAliasLooksUpTheAlias(t *testing.T) {
	dir := t.TempDir()
	keyFile, key := writeKey(t, dir, "id")
	s := newInProcServer(t, acceptKey(key.PublicKey()))
	tg := s.target(t)
	tg.IdentityFiles = []string{keyFile}
	tg.KnownHosts = []string{s.knownHosts(t, "fleet-alias")}
	d := NewDialer(DialerOptions{})
	defer d.Close()
	wantCategory(t, dialClose(t, d, tg), CatHostKeyUnknown)
	tg.HostKeyAlias = "fleet-alias"
	if err := dialClose(t, d, tg); err != nil {
		t.Fatalf("HostKeyAlias fleet-alias, known_hosts line for fleet-alias: %v", err)
	}
	// accept-new records the alias, without the address or port.
	tg.KnownHosts = []string{filepath.Join(t.TempDir(), "known_hosts")}
	tg.HostKeyAlias, tg.HostKeyPolicy = "other-alias", "accept-new"
	if err := dialClose(t, d, tg); err != nil {
		t.Fatal(err)
	}
	if lines := hostLines(t, tg.KnownHosts[0]); len(lines) != 1 || !strings.HasPrefix(lines[0], "other-alias ssh-ed25519 ") {
		t.Errorf("recorded %q, want an other-alias line", lines)
	}
}

// TestProxyCommandCarriesTheConnection: the SSH connection goes over the
// ProxyCommand's stdin and stdout, its tokens replaced, and the command
// ends with the connection.
func TestProxyCommandCarriesTheConnection(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for a /dev/tcp ProxyCommand")
	}
	dir := t.TempDir()
	keyFile, key := writeKey(t, dir, "id")
	s := newInProcServer(t, acceptKey(key.PublicKey()))
	tg := s.target(t)
	tg.IdentityFiles = []string{keyFile}
	tg.KnownHosts = []string{s.knownHosts(t, "["+tg.Address+"]:"+fmt.Sprint(tg.Port))}
	pidFile := filepath.Join(dir, "pid")
	tg.ProxyCommand = `bash -c 'echo $$ > ` + pidFile + `; exec 3<>/dev/tcp/%h/%p; cat <&3 & exec cat >&3'`
	// The server is reachable only through the command: the target's
	// address is one nothing listens on, and the command gets the real one.
	d := NewDialer(DialerOptions{})
	defer d.Close()
	if err := dialClose(t, d, tg); err != nil {
		t.Fatalf("through ProxyCommand: %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("ProxyCommand (pid %d) still runs after the connection closed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A failing command's stderr is in the error.
	tg.ProxyCommand = "sh -c 'echo no route to %h >&2; exit 3'"
	err = dialClose(t, d, tg)
	if err == nil || !strings.Contains(err.Error(), "no route to "+tg.Address) {
		t.Errorf("failing ProxyCommand: %v, want its stderr", err)
	}
	// A token value a shell would interpret is refused.
	bad := tg
	bad.User, bad.ProxyCommand = "u;touch "+filepath.Join(dir, "pwned"), "nc %h %p -l %r"
	wantCategory(t, dialClose(t, d, bad), CatInvalidValue)
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// TestCertificateAndIdentityAgent: a server that accepts only certificates
// signed by its CA is reached with CertificateFiles and with FILE-cert.pub;
// a target's IdentityAgent socket is used instead of the run's, "none"
// uses no agent; IdentitiesOnly keeps other agent keys back.
func TestCertificateAndIdentityAgent(t *testing.T) {
	dir := t.TempDir()
	ca := newSigner(t)
	certOnly := func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		c, ok := k.(*ssh.Certificate)
		if !ok || !bytes.Equal(c.SignatureKey.Marshal(), ca.PublicKey().Marshal()) {
			return nil, errors.New("certificates only")
		}
		checker := ssh.CertChecker{IsUserAuthority: func(a ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), ca.PublicKey().Marshal()) }}
		return checker.Authenticate(connMeta{"u"}, k)
	}
	s := newInProcServer(t, certOnly)
	keyFile, key := writeKey(t, dir, "id")
	cert := &ssh.Certificate{Key: key.PublicKey(), CertType: ssh.UserCert, KeyId: "fleet-user", ValidPrincipals: []string{"u"},
		ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "user-cert.pub")
	os.WriteFile(certFile, ssh.MarshalAuthorizedKey(cert), 0o644)
	tg := s.target(t)
	tg.KnownHosts = []string{s.knownHosts(t, "["+tg.Address+"]:"+fmt.Sprint(tg.Port))}
	d := NewDialer(DialerOptions{})
	defer d.Close()

	tg.IdentityFiles = []string{keyFile}
	wantCategory(t, dialClose(t, d, tg), CatAuth)
	tg.CertificateFiles = []string{certFile}
	if err := dialClose(t, d, tg); err != nil {
		t.Fatalf("CertificateFile: %v", err)
	}
	tg.CertificateFiles = nil
	os.WriteFile(keyFile+"-cert.pub", ssh.MarshalAuthorizedKey(cert), 0o644)
	if err := dialClose(t, d, tg); err != nil {
		t.Fatalf("%s-cert.pub: %v", keyFile, err)
	}
	os.Remove(keyFile + "-cert.pub")

	// The key only in an agent, the certificate in a file.
	sock := startKeyring(t, dir, key)
	tg.IdentityFiles, tg.CertificateFiles = nil, []string{certFile}
	tg.IdentityAgent = sock
	if err := dialClose(t, d, tg); err != nil {
		t.Fatalf("IdentityAgent %s with CertificateFile: %v", sock, err)
	}
	tg.IdentityAgent = "none"
	wantCategory(t, dialClose(t, d, tg), CatAuth)

	// IdentitiesOnly: an agent key that is not an identity is kept back.
	plain := newInProcServer(t, acceptKey(key.PublicKey()))
	pt := plain.target(t)
	pt.KnownHosts = []string{plain.knownHosts(t, "["+pt.Address+"]:"+fmt.Sprint(pt.Port))}
	otherFile, _ := writeKey(t, dir, "other")
	pt.IdentityAgent, pt.IdentityFiles = sock, []string{otherFile}
	if err := dialClose(t, d, pt); err != nil {
		t.Fatalf("agent key without IdentitiesOnly: %v", err)
	}
	pt.IdentitiesOnly = true
	wantCategory(t, dialClose(t, d, pt), CatAuth)
	agentPub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.PublicKey())))
	plain.mu.Lock()
	offered := plain.offered
	plain.mu.Unlock()
	if n := strings.Count(strings.Join(offered, "\n"), agentPub); n != 1 {
		t.Errorf("the agent key was offered %d times over both dials, want once (not under IdentitiesOnly)", n)
	}
}

type connMeta struct{ user string }

func (c connMeta) User() string          { return c.user }
func (c connMeta) SessionID() []byte     { return nil }
func (c connMeta) ClientVersion() []byte { return nil }
func (c connMeta) ServerVersion() []byte { return nil }
func (c connMeta) RemoteAddr() net.Addr  { return nil }
func (c connMeta) LocalAddr() net.Addr   { return nil }

// startKeyring serves an in-memory agent holding signers on a socket.
func startKeyring(t *testing.T, dir string, keys ...testKey) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k.priv}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	return sock
}
