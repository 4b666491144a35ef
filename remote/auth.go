package remote

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// authTrace records, for one handshake, what fleetclaim offered and what the
// server said it accepts, so that an authentication failure can say both.
type authTrace struct {
	mu       sync.Mutex
	allowed  []string // the server's "can continue" list, last seen
	offered  []string // keys offered, described
	skipped  []string // keys that could not be used, with the reason
	password bool     // password or keyboard-interactive was enabled
}

func (a *authTrace) setAllowed(m []string) {
	a.mu.Lock()
	a.allowed = append(a.allowed[:0], m...)
	a.mu.Unlock()
}

// authMethods builds the authentication methods in OpenSSH's order: keys
// held by ssh-agent, then identity files not already in the agent, then
// (only when enabled) password and keyboard-interactive with the one
// password of the run. Keys are loaded lazily, when the server asks for
// publickey, so an encrypted key's passphrase is never asked for in vain.
func (d *Dialer) authMethods(t Target, tr *authTrace) []ssh.AuthMethod {
	methods := []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		signers, offered, skipped := d.signers(t)
		tr.mu.Lock()
		tr.offered, tr.skipped = offered, skipped
		tr.mu.Unlock()
		return signers, nil
	})}
	if d.opts.PasswordAuth {
		tr.password = true
		methods = append(methods,
			ssh.PasswordCallback(func() (string, error) {
				p, err := d.password(t)
				return string(p), err
			}),
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if echos[i] {
						return nil, fmt.Errorf("the server asks %q, which fleetclaim cannot answer", strings.TrimSpace(questions[i]))
					}
					p, err := d.password(t)
					if err != nil {
						return nil, err
					}
					answers[i] = string(p)
				}
				return answers, nil
			}))
	}
	return methods
}

// signers returns the keys to offer: the agent's first, then identity files
// whose key the agent does not hold, each preceded by the certificates
// (CertificateFiles, FILE-cert.pub) that certify it. With IdentitiesOnly,
// agent keys are offered only for the identity files and certificates.
// offered and skipped describe them for error messages.
func (d *Dialer) signers(t Target) (signers []ssh.Signer, offered, skipped []string) {
	certs, skipped := certificates(t)
	o := &offer{certs: certs, seen: map[string]bool{}, skipped: skipped}
	var allowed map[string]bool
	if t.IdentitiesOnly {
		allowed = identityKeys(t, certs)
	}
	if p, err := d.agentFor(t); err != nil {
		o.skipped = append(o.skipped, err.Error())
	} else if p != nil {
		o.agentKeys(p, allowed)
	}
	for _, f := range t.IdentityFiles {
		e := d.identity(f, o.seen)
		switch {
		case e.inAgent:
			continue
		case e.err != nil:
			o.skipped = append(o.skipped, e.err.Error())
			continue
		}
		k := string(e.signer.PublicKey().Marshal())
		if o.seen[k] {
			continue
		}
		o.seen[k] = true
		o.add(e.signer, fmt.Sprintf("%s %s %s", f, e.signer.PublicKey().Type(), ssh.FingerprintSHA256(e.signer.PublicKey())))
	}
	return o.signers, o.offered, o.skipped
}

// offer is the keys signers offers, in order, with what describes them;
// seen holds the keys and certificates already in it.
type offer struct {
	certs            []certFile
	seen             map[string]bool
	signers          []ssh.Signer
	offered, skipped []string
}

// add offers s, preceded by the certificates that certify its key.
func (o *offer) add(s ssh.Signer, desc string) {
	pub := s.PublicKey()
	if c, ok := pub.(*ssh.Certificate); ok {
		pub = c.Key
	}
	for _, c := range o.certs {
		if !bytes.Equal(c.cert.Key.Marshal(), pub.Marshal()) || o.seen[string(c.cert.Marshal())] {
			continue
		}
		cs, err := ssh.NewCertSigner(c.cert, s)
		if err != nil {
			o.skipped = append(o.skipped, fmt.Sprintf("certificate %s: %v", c.file, err))
			continue
		}
		o.seen[string(c.cert.Marshal())] = true
		o.signers = append(o.signers, cs)
		o.offered = append(o.offered, fmt.Sprintf("certificate %s (%s) for %s", c.file, c.cert.KeyId, desc))
	}
	o.signers = append(o.signers, s)
	o.offered = append(o.offered, desc)
}

// agentKeys offers the agent's keys (only those in allowed, when it is
// not nil).
func (o *offer) agentKeys(p *agentPool, allowed map[string]bool) {
	keys, err := p.keys()
	if err != nil {
		o.skipped = append(o.skipped, "ssh-agent: "+err.Error())
	}
	for _, k := range keys {
		if allowed != nil && !allowed[string(keyOf(k.pub).Marshal())] {
			continue
		}
		o.seen[string(k.pub.Marshal())] = true
		o.add(k, fmt.Sprintf("agent key %s %s (%s)", k.pub.Type(), ssh.FingerprintSHA256(k.pub), k.comment))
	}
}

// keyOf is the plain key of a certificate, or k itself.
func keyOf(k ssh.PublicKey) ssh.PublicKey {
	if c, ok := k.(*ssh.Certificate); ok {
		return c.Key
	}
	return k
}

type certFile struct {
	file string
	cert *ssh.Certificate
}

// certificates reads the target's user certificates: CertificateFiles, then
// FILE-cert.pub next to each identity file, as ssh does. A listed file that
// cannot be read is reported; a missing -cert.pub is not.
func certificates(t Target) (out []certFile, skipped []string) {
	read := func(f string, listed bool) {
		b, err := os.ReadFile(f)
		if err != nil {
			if listed || !errors.Is(err, os.ErrNotExist) {
				skipped = append(skipped, fmt.Sprintf("certificate %s: %v", f, err))
			}
			return
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("certificate %s: %v", f, err))
			return
		}
		c, ok := pub.(*ssh.Certificate)
		if !ok || c.CertType != ssh.UserCert {
			skipped = append(skipped, fmt.Sprintf("certificate %s: not an OpenSSH user certificate", f))
			return
		}
		out = append(out, certFile{f, c})
	}
	for _, f := range t.CertificateFiles {
		read(f, true)
	}
	for _, f := range t.IdentityFiles {
		read(f+"-cert.pub", false)
	}
	return out, skipped
}

// identityKeys are the public keys IdentitiesOnly allows from the agent:
// those of the identity files (FILE.pub, or the key file itself when its
// public half is readable without a passphrase) and of the certificates.
func identityKeys(t Target, certs []certFile) map[string]bool {
	m := map[string]bool{}
	for _, c := range certs {
		m[string(c.cert.Key.Marshal())] = true
	}
	for _, f := range t.IdentityFiles {
		if b, err := os.ReadFile(f + ".pub"); err == nil {
			if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
				m[string(keyOf(pub).Marshal())] = true
				continue
			}
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		var missing *ssh.PassphraseMissingError
		switch {
		case err == nil:
			m[string(s.PublicKey().Marshal())] = true
		case errors.As(err, &missing) && missing.PublicKey != nil:
			m[string(missing.PublicKey.Marshal())] = true
		}
	}
	return m
}

type signerEntry struct {
	once    sync.Once
	signer  ssh.Signer
	inAgent bool
	err     error
}

// identity loads an identity file once per run. An encrypted key whose public
// half the agent already holds is not decrypted: the agent signs for it.
func (d *Dialer) identity(file string, agentKeys map[string]bool) *signerEntry {
	d.mu.Lock()
	e, ok := d.identities[file]
	if !ok {
		e = &signerEntry{}
		d.identities[file] = e
	}
	d.mu.Unlock()
	e.once.Do(func() {
		b, err := os.ReadFile(file)
		if err != nil {
			e.err = fmt.Errorf("identity file: %w", err)
			return
		}
		s, err := ssh.ParsePrivateKey(b)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			if missing.PublicKey != nil && agentKeys[string(missing.PublicKey.Marshal())] {
				e.inAgent = true
				return
			}
			e.signer, e.err = d.decrypt(file, b)
		case err != nil:
			e.err = fmt.Errorf("identity file %s: %w", file, err)
		default:
			e.signer = s
		}
	})
	return e
}

// decrypt decrypts an encrypted identity file. Passphrases that opened an
// earlier file are tried first, so a user with one passphrase for all keys
// is asked once.
func (d *Dialer) decrypt(file string, pem []byte) (ssh.Signer, error) {
	d.mu.Lock()
	known := append([][]byte(nil), d.passphrases...)
	d.mu.Unlock()
	for _, p := range known {
		if s, err := ssh.ParsePrivateKeyWithPassphrase(pem, p); err == nil {
			return s, nil
		}
	}
	source := d.opts.passphraseSource()
	if source == nil {
		return nil, fmt.Errorf("identity file %s is encrypted and no passphrase source was given (a terminal, PassphraseFile or PassphraseEnv)", file)
	}
	pass, err := source(file)
	if err != nil {
		return nil, fmt.Errorf("passphrase for %s: %w", file, err)
	}
	s, err := ssh.ParsePrivateKeyWithPassphrase(pem, pass)
	if err != nil {
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("identity file %s: wrong passphrase", file)
		}
		return nil, fmt.Errorf("identity file %s: %w", file, err)
	}
	d.mu.Lock()
	d.passphrases = append(d.passphrases, pass)
	d.mu.Unlock()
	return s, nil
}

// passphraseSource returns where passphrases come from, in order of
// precedence: the callback, the file, the environment variable.
func (o DialerOptions) passphraseSource() func(file string) ([]byte, error) {
	switch {
	case o.Passphrase != nil:
		return o.Passphrase
	case o.PassphraseFile != "":
		return func(string) ([]byte, error) { return readSecretFile(o.PassphraseFile) }
	case o.PassphraseEnv != "":
		return func(string) ([]byte, error) {
			v, ok := os.LookupEnv(o.PassphraseEnv)
			if !ok {
				return nil, fmt.Errorf("environment variable %s is not set", o.PassphraseEnv)
			}
			return []byte(v), nil
		}
	}
	return nil
}

// password returns the login password, asking for it once per run.
func (d *Dialer) password(t Target) ([]byte, error) {
	d.pwOnce.Do(func() {
		if d.opts.Password == nil {
			d.pwErr = errors.New("password authentication is enabled but no password source was given")
			return
		}
		d.pw, d.pwErr = d.opts.Password(t.User + "@" + t.Hop.addr())
	})
	return d.pw, d.pwErr
}

func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// TerminalPassphrase returns a passphrase source that asks on the
// controlling terminal (without echo), for DialerOptions.Passphrase.
func TerminalPassphrase() func(file string) ([]byte, error) {
	return func(file string) ([]byte, error) {
		return askTerminal(fmt.Sprintf("Enter passphrase for key '%s': ", file))
	}
}

// TerminalPassword returns a password source that asks once on the
// controlling terminal, for DialerOptions.Password.
func TerminalPassword() func(where string) ([]byte, error) {
	return func(where string) ([]byte, error) {
		return askTerminal(fmt.Sprintf("SSH password (used for every host, first asked by %s): ", where))
	}
}

// PasswordFromFile returns a source that reads a secret from a file (the
// trailing newline removed), for DialerOptions.Password or a sudo password.
func PasswordFromFile(path string) func(string) ([]byte, error) {
	return func(string) ([]byte, error) { return readSecretFile(path) }
}

func askTerminal(prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("no terminal to ask on: %w", err)
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return nil, errors.New("no terminal to ask on")
	}
	io.WriteString(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	io.WriteString(tty, "\n")
	return b, err
}

// isAuthExhausted reports whether err is x/crypto's end of authentication
// once no method is left: the error made at ssh/client_auth.go:154
// (v0.59.0), "ssh: unable to authenticate, attempted methods %v, no
// supported methods remain", wrapped at ssh/client.go:88 ("ssh: handshake
// failed: %w"). It has no type of its own, so the innermost error's text
// is matched whole: a host or proxy command's words around it do not
// count.
func isAuthExhausted(err error) bool {
	for err != nil {
		next := errors.Unwrap(err)
		if next == nil {
			m := err.Error()
			return strings.HasPrefix(m, "ssh: unable to authenticate, attempted methods [") &&
				strings.HasSuffix(m, "], no supported methods remain")
		}
		err = next
	}
	return false
}

// describeAuth turns x/crypto's "unable to authenticate" into a message in
// OpenSSH's spirit: what the server accepts, and what was offered.
func describeAuth(err error, h Hop, tr *authTrace) error {
	if !isAuthExhausted(err) {
		return err
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "permission denied for %s", h.User)
	if len(tr.allowed) > 0 {
		fmt.Fprintf(&b, "; the server accepts %s", strings.Join(tr.allowed, ","))
	}
	if len(tr.offered) == 0 {
		b.WriteString("; no key was offered")
	} else {
		fmt.Fprintf(&b, "; offered %s", strings.Join(tr.offered, ", "))
	}
	if len(tr.skipped) > 0 {
		fmt.Fprintf(&b, "; not usable: %s", strings.Join(tr.skipped, "; "))
	}
	if !tr.password {
		for _, m := range tr.allowed {
			if m == "password" || m == "keyboard-interactive" {
				b.WriteString("; password authentication was not enabled")
				break
			}
		}
	}
	return fmt.Errorf("%s: %w", b.String(), err)
}

// agentPool shares a few connections to ssh-agent between every handshake
// of a run. The agent answers one request per connection at a time; a small
// pool keeps many handshakes in flight from queueing behind one socket.
type agentPool struct {
	sock string
	idle chan agent.ExtendedAgent
	sem  chan struct{} // one token per open connection

	once    sync.Once
	list    []*agentKey
	listErr error
}

type agentKey struct {
	pool    *agentPool
	pub     ssh.PublicKey
	comment string
}

// newAgentPool shares n connections to the agent at sock (n > 0: see
// DialerOptions.agentConns).
func newAgentPool(sock string, n int) *agentPool {
	return &agentPool{sock: sock, idle: make(chan agent.ExtendedAgent, n), sem: make(chan struct{}, n)}
}

type agentConn struct {
	agent.ExtendedAgent
	c net.Conn
}

func (p *agentPool) get() (agent.ExtendedAgent, error) {
	select {
	case a := <-p.idle:
		return a, nil
	default:
	}
	select {
	case a := <-p.idle:
		return a, nil
	case p.sem <- struct{}{}:
		c, err := net.Dial("unix", p.sock)
		if err != nil {
			<-p.sem
			return nil, fmt.Errorf("ssh-agent at %s: %w", p.sock, err)
		}
		return agentConn{agent.NewClient(c), c}, nil
	}
}

func (p *agentPool) put(a agent.ExtendedAgent, broken bool) {
	if broken {
		if ac, ok := a.(agentConn); ok {
			ac.c.Close()
		}
		<-p.sem
		return
	}
	p.idle <- a
}

func (p *agentPool) close() {
	for {
		select {
		case a := <-p.idle:
			p.put(a, true)
		default:
			return
		}
	}
}

// keys lists the agent's keys once per run.
func (p *agentPool) keys() ([]*agentKey, error) {
	p.once.Do(func() {
		a, err := p.get()
		if err != nil {
			p.listErr = err
			return
		}
		keys, err := a.List()
		p.put(a, err != nil)
		if err != nil {
			p.listErr = fmt.Errorf("ssh-agent: %w", err)
			return
		}
		for _, k := range keys {
			pub, err := ssh.ParsePublicKey(k.Blob)
			if err != nil {
				continue
			}
			p.list = append(p.list, &agentKey{pool: p, pub: pub, comment: k.Comment})
		}
	})
	return p.list, p.listErr
}

func (k *agentKey) PublicKey() ssh.PublicKey { return k.pub }

func (k *agentKey) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	return k.SignWithAlgorithm(rand, data, "")
}

// SignWithAlgorithm asks the agent to sign; RSA keys sign with SHA-2 when the
// server asked for rsa-sha2-256 or -512.
func (k *agentKey) SignWithAlgorithm(_ io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	var flags agent.SignatureFlags
	switch algorithm {
	case ssh.KeyAlgoRSASHA256, ssh.CertAlgoRSASHA256v01:
		flags = agent.SignatureFlagRsaSha256
	case ssh.KeyAlgoRSASHA512, ssh.CertAlgoRSASHA512v01:
		flags = agent.SignatureFlagRsaSha512
	}
	a, err := k.pool.get()
	if err != nil {
		return nil, err
	}
	sig, err := a.SignWithFlags(k.pub, data, flags)
	// A refused signature (e.g. a confirm-constrained key) leaves the
	// connection usable; anything else does not, an I/O error ("agent:
	// client error: …", x/crypto v0.59.0 ssh/agent/client.go:247) least.
	broken := err != nil && !isAgentRefusal(err)
	k.pool.put(a, broken)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent sign with %s: %w", ssh.FingerprintSHA256(k.pub), err)
	}
	return sig, nil
}

// isAgentRefusal reports whether err is the agent's answer SSH_AGENT_FAILURE
// to a sign request: x/crypto makes it at ssh/agent/client.go:507
// (v0.59.0), with no type of its own.
func isAgentRefusal(err error) bool {
	return err.Error() == "agent: failed to sign challenge"
}
