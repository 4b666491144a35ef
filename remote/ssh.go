package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Hop is one SSH endpoint: a target or a jump host.
type Hop struct {
	User    string
	Address string
	Port    int
}

func (h Hop) addr() string {
	port := h.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(h.Address, strconv.Itoa(port))
}

func (h Hop) key() string { return h.User + "@" + h.addr() }

// Target is everything needed to reach one host.
type Target struct {
	// Name is the inventory name, used in errors.
	Name string
	Hop
	// Jump is the ProxyJump chain, outermost first.
	Jump          []Hop
	IdentityFiles []string
	KnownHosts    []string
	// HostKeyPolicy is "strict" (default), "accept-new" or "off".
	HostKeyPolicy string
	// ConnectTimeout bounds the TCP connect and, separately, the whole SSH
	// handshake including authentication.
	ConnectTimeout time.Duration
	// KeepaliveInterval is how often keepalive@openssh.com is sent; the
	// connection is dropped after three unanswered ones. 0 means 15s.
	KeepaliveInterval time.Duration
	// MaxSessions caps concurrent sessions on the connection; 0 means 8,
	// below OpenSSH's default MaxSessions of 10.
	MaxSessions int
}

// DialerOptions configure a Dialer shared by every connection of a run.
type DialerOptions struct {
	// AgentSocket is the ssh-agent socket; "" disables agent auth.
	AgentSocket string
	// Passphrase returns the passphrase of an encrypted identity file. It is
	// called at most once per file. nil means encrypted keys are skipped.
	Passphrase func(file string) ([]byte, error)
	// JumpHandshakes caps concurrent handshakes through one jump host so
	// that its MaxStartups is never tripped; 0 means 8.
	JumpHandshakes int
}

// Dialer opens SSH connections. It caches parsed keys, known_hosts files and
// jump-host connections for the whole run; it is safe for concurrent use.
type Dialer struct {
	opts DialerOptions

	mu        sync.Mutex
	signers   map[string]*signerEntry
	hostKeys  map[string]*hostKeyStore
	jumps     map[string]*jumpConn
	agentOnce sync.Once
	agent     agent.ExtendedAgent
	agentErr  error
}

type signerEntry struct {
	once   sync.Once
	signer ssh.Signer
	err    error
}

type jumpConn struct {
	once   sync.Once
	client *ssh.Client
	err    error
	slots  chan struct{}
}

// NewDialer returns a Dialer.
func NewDialer(opts DialerOptions) *Dialer {
	if opts.JumpHandshakes <= 0 {
		opts.JumpHandshakes = 8
	}
	return &Dialer{
		opts:     opts,
		signers:  map[string]*signerEntry{},
		hostKeys: map[string]*hostKeyStore{},
		jumps:    map[string]*jumpConn{},
	}
}

// Close closes the shared jump-host connections.
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, j := range d.jumps {
		if j.client != nil {
			j.client.Close()
		}
		delete(d.jumps, k)
	}
	return nil
}

// Dial connects and authenticates to t, through its jump hosts if any.
func (d *Dialer) Dial(ctx context.Context, t Target) (*Client, error) {
	if t.ConnectTimeout <= 0 {
		t.ConnectTimeout = 10 * time.Second
	}
	var via *jumpConn
	if len(t.Jump) > 0 {
		j, err := d.jump(ctx, t, len(t.Jump))
		if err != nil {
			return nil, err
		}
		via = j
	}
	return d.dialHop(ctx, t, t.Hop, via)
}

// jump returns the shared connection to the n-th hop of t's jump chain
// (1-based), opening it and the hops before it as needed.
func (d *Dialer) jump(ctx context.Context, t Target, n int) (*jumpConn, error) {
	chain := make([]string, n)
	for i := 0; i < n; i++ {
		chain[i] = t.Jump[i].key()
	}
	key := strings.Join(chain, ",")
	d.mu.Lock()
	j, ok := d.jumps[key]
	if !ok {
		j = &jumpConn{slots: make(chan struct{}, d.opts.JumpHandshakes)}
		d.jumps[key] = j
	}
	d.mu.Unlock()
	j.once.Do(func() {
		var via *jumpConn
		if n > 1 {
			via, j.err = d.jump(ctx, t, n-1)
			if j.err != nil {
				return
			}
		}
		hop := t.Jump[n-1]
		if hop.User == "" {
			hop.User = t.User
		}
		var c *Client
		c, j.err = d.dialHop(ctx, t, hop, via)
		if j.err == nil {
			j.client = c.ssh
		}
	})
	if j.err != nil {
		return nil, fmt.Errorf("jump host %s: %w", t.Jump[n-1].addr(), j.err)
	}
	return j, nil
}

func (d *Dialer) dialHop(ctx context.Context, t Target, h Hop, via *jumpConn) (*Client, error) {
	addr := h.addr()
	name := t.Name
	if h != t.Hop {
		name = addr
	}
	var conn net.Conn
	var err error
	dctx, cancel := context.WithTimeout(ctx, t.ConnectTimeout)
	if via != nil {
		select {
		case via.slots <- struct{}{}:
			defer func() { <-via.slots }()
		case <-dctx.Done():
			cancel()
			return nil, &Error{Op: "dial", Host: name, Category: CatConnectTimeout, Err: fmt.Errorf("waiting for a handshake slot on the jump host: %w", dctx.Err())}
		}
		conn, err = via.client.DialContext(dctx, "tcp", addr)
	} else {
		var nd net.Dialer
		conn, err = nd.DialContext(dctx, "tcp", addr)
	}
	cancel()
	if err != nil {
		return nil, &Error{Op: "dial", Host: name, Category: dialCategory(ctx, err), Err: err}
	}

	store, err := d.hostKeyStore(t.KnownHosts)
	if err != nil && t.HostKeyPolicy != "off" {
		conn.Close()
		return nil, &Error{Op: "handshake", Host: name, Category: CatHostKeyUnknown, Err: err}
	}
	auth, authErr := d.authMethods(t)
	if authErr != nil && len(auth) == 0 {
		conn.Close()
		return nil, &Error{Op: "handshake", Host: name, Category: CatAuth, Err: authErr}
	}
	cfg := &ssh.ClientConfig{
		User:            h.User,
		Auth:            auth,
		HostKeyCallback: store.callback(t.HostKeyPolicy),
		Timeout:         t.ConnectTimeout,
	}
	if store != nil {
		cfg.HostKeyAlgorithms = store.algorithms(addr)
	}

	// x/crypto/ssh's Timeout covers only its own dial; the handshake gets
	// its own deadline, and cancellation closes the socket.
	conn.SetDeadline(time.Now().Add(t.ConnectTimeout))
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-stop:
		}
	}()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	close(stop)
	if err != nil {
		conn.Close()
		return nil, &Error{Op: "handshake", Host: name, Category: handshakeCategory(ctx, err), Err: describeAuth(err, t)}
	}
	conn.SetDeadline(time.Time{})
	c := newClient(name, ssh.NewClient(sc, chans, reqs), t)
	return c, nil
}

func dialCategory(ctx context.Context, err error) string {
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() == context.Canceled:
		return CatCanceled
	case errors.Is(err, syscall.ECONNREFUSED):
		return CatConnectRefused
	case errors.As(err, &dnsErr):
		return CatDNS
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return CatUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return CatConnectTimeout
	}
	return CatUnreachable
}

func handshakeCategory(ctx context.Context, err error) string {
	if c := CategoryOf(err); c != "" {
		return c
	}
	switch {
	case ctx.Err() == context.Canceled:
		return CatCanceled
	case ctx.Err() == context.DeadlineExceeded:
		return CatTimeout
	case errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return CatHandshakeTimeout
	case strings.Contains(err.Error(), "unable to authenticate"):
		return CatAuth
	}
	return CatConnectionLost
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func describeAuth(err error, t Target) error {
	if !strings.Contains(err.Error(), "unable to authenticate") {
		return err
	}
	offered := "no identity files"
	if len(t.IdentityFiles) > 0 {
		offered = "identity files " + strings.Join(t.IdentityFiles, ", ")
	}
	return fmt.Errorf("%w (offered: %s)", err, offered)
}

// authMethods builds the authentication methods in OpenSSH's order: agent
// keys first, then identity files.
func (d *Dialer) authMethods(t Target) ([]ssh.AuthMethod, error) {
	var signers []ssh.Signer
	var errs []error
	if a := d.sshAgent(); a != nil {
		if s, err := a.Signers(); err == nil {
			signers = append(signers, s...)
		} else {
			errs = append(errs, fmt.Errorf("ssh-agent: %w", err))
		}
	}
	for _, f := range t.IdentityFiles {
		s, err := d.signer(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		signers = append(signers, s)
	}
	if len(signers) == 0 {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no identity files and no ssh-agent keys to offer"))
		}
		return nil, errors.Join(errs...)
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, errors.Join(errs...)
}

func (d *Dialer) sshAgent() agent.ExtendedAgent {
	if d.opts.AgentSocket == "" {
		return nil
	}
	d.agentOnce.Do(func() {
		conn, err := net.Dial("unix", d.opts.AgentSocket)
		if err != nil {
			d.agentErr = err
			return
		}
		d.agent = agent.NewClient(conn)
	})
	return d.agent
}

func (d *Dialer) signer(file string) (ssh.Signer, error) {
	d.mu.Lock()
	e, ok := d.signers[file]
	if !ok {
		e = &signerEntry{}
		d.signers[file] = e
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
		if errors.As(err, &missing) {
			if d.opts.Passphrase == nil {
				e.err = fmt.Errorf("identity file %s is encrypted and no passphrase source was given", file)
				return
			}
			pass, perr := d.opts.Passphrase(file)
			if perr != nil {
				e.err = fmt.Errorf("passphrase for %s: %w", file, perr)
				return
			}
			s, err = ssh.ParsePrivateKeyWithPassphrase(b, pass)
			if err != nil {
				e.err = fmt.Errorf("identity file %s: wrong passphrase or unreadable key: %w", file, err)
				return
			}
		} else if err != nil {
			e.err = fmt.Errorf("identity file %s: %w", file, err)
			return
		}
		e.signer = s
	})
	return e.signer, e.err
}

// Client is one authenticated SSH connection to a host. Every operation on
// the host shares it.
type Client struct {
	name     string
	ssh      *ssh.Client
	sessions chan struct{}
	done     chan struct{}
	closeMu  sync.Once
	lost     chan struct{}
}

func newClient(name string, c *ssh.Client, t Target) *Client {
	max := t.MaxSessions
	if max <= 0 {
		max = 8
	}
	cl := &Client{name: name, ssh: c, sessions: make(chan struct{}, max), done: make(chan struct{}), lost: make(chan struct{})}
	interval := t.KeepaliveInterval
	if interval <= 0 {
		interval = 15 * time.Second
	}
	go cl.keepalive(interval)
	return cl
}

// keepalive sends keepalive@openssh.com and drops the connection after
// three intervals without an answer, so a dead host fails in bounded time.
func (c *Client) keepalive(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	answered := make(chan error, 1)
	pending := false
	missed := 0
	for {
		select {
		case <-c.done:
			return
		case err := <-answered:
			pending = false
			if err != nil {
				c.drop()
				return
			}
			missed = 0
		case <-t.C:
			if pending {
				missed++
				if missed >= 3 {
					c.drop()
					return
				}
				continue
			}
			pending = true
			go func() {
				_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
				answered <- err
			}()
		}
	}
}

func (c *Client) drop() {
	select {
	case <-c.lost:
	default:
		close(c.lost)
	}
	c.ssh.Close()
}

// Close closes the connection and every session on it.
func (c *Client) Close() error {
	var err error
	c.closeMu.Do(func() {
		close(c.done)
		err = c.ssh.Close()
	})
	return err
}

// Result is what a remote command returned.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	// Truncated is set when the output passed MaxOutput and was cut.
	Truncated bool
}

// MaxOutput bounds what is kept of one command's stdout and of its stderr:
// a host's output is untrusted and never allowed to grow without limit.
const MaxOutput = 1 << 20

// Runner runs commands on one host. *Client implements it; claim logic is
// tested against fakes.
type Runner interface {
	// Run runs cmd with /bin/sh semantics on the host, feeding stdin (may
	// be nil). A non-zero exit is not an error; a lost connection is.
	Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error)
	// DialContext opens a TCP connection from the host's side (SSH
	// direct-tcpip), e.g. to the agent's API on its loopback.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Run implements Runner.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	select {
	case c.sessions <- struct{}{}:
		defer func() { <-c.sessions }()
	case <-ctx.Done():
		return Result{}, c.ctxErr(ctx, "run")
	}
	s, err := c.ssh.NewSession()
	if err != nil {
		return Result{}, &Error{Op: "run", Host: c.name, Category: CatConnectionLost, Err: err}
	}
	defer s.Close()
	var out, errb limitedBuffer
	out.max, errb.max = MaxOutput, MaxOutput
	s.Stdout, s.Stderr = &out, &errb
	if stdin != nil {
		s.Stdin = stdin
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Signal(ssh.SIGKILL)
		s.Close()
		return Result{Stdout: out.b, Stderr: errb.b}, c.ctxErr(ctx, "run")
	}
	res := Result{Stdout: out.b, Stderr: errb.b, Truncated: out.cut || errb.cut}
	if err == nil {
		return res, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitStatus()
		if ee.Signal() != "" && ee.ExitStatus() == 0 {
			res.ExitCode = 128
		}
		return res, nil
	}
	return res, &Error{Op: "run", Host: c.name, Category: CatConnectionLost, Err: err}
}

func (c *Client) ctxErr(ctx context.Context, op string) error {
	cat := CatCanceled
	if ctx.Err() == context.DeadlineExceeded {
		cat = CatTimeout
	}
	return &Error{Op: op, Host: c.name, Category: cat, Err: ctx.Err()}
}

// DialContext implements Runner.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.ssh.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &Error{Op: "forward", Host: c.name, Category: CatCommand, Err: err}
	}
	return conn, nil
}

type limitedBuffer struct {
	b   []byte
	max int
	cut bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	room := l.max - len(l.b)
	if room <= 0 {
		l.cut = l.cut || len(p) > 0
		return len(p), nil
	}
	if len(p) > room {
		l.b = append(l.b, p[:room]...)
		l.cut = true
		return len(p), nil
	}
	l.b = append(l.b, p...)
	return len(p), nil
}
