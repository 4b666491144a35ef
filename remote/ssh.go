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
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Hop is one SSH endpoint: a target or a jump host.
type Hop struct {
	User    string
	Address string
	Port    int
}

func (h Hop) addr() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.port())) }

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
	// HostKeyAlias, when set, is the name the target's host key is looked
	// up and recorded under instead of its address (ssh_config
	// HostKeyAlias), without a port, as OpenSSH does.
	HostKeyAlias string
	// HashKnownHosts hashes the names recorded under accept-new; a file
	// whose entries are mostly hashed is followed anyway.
	HashKnownHosts bool
	// ProxyCommand, when set, is run with sh -c (after its %h %p %r %n %%
	// tokens are replaced) and the connection to the target is made over
	// its stdin and stdout; it is ended with the connection. It excludes
	// Jump.
	ProxyCommand string
	// CertificateFiles are OpenSSH user certificates, each offered with
	// the identity (file or agent key) whose public key it certifies. An
	// identity file's FILE-cert.pub is offered without being listed.
	CertificateFiles []string
	// IdentityAgent is the ssh-agent socket for this target: "" for the
	// Dialer's (DialerOptions.AgentSocket), "none" for no agent.
	IdentityAgent string
	// IdentitiesOnly offers only IdentityFiles and CertificateFiles (an
	// agent still signs for them when it holds them).
	IdentitiesOnly bool
	// ConnectTimeout bounds the TCP connect and, separately, the whole SSH
	// handshake including authentication; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// KeepaliveInterval is how often keepalive@openssh.com is sent; the
	// connection is dropped after three unanswered ones. 0 means
	// DefaultKeepaliveInterval.
	KeepaliveInterval time.Duration
	// MaxSessions caps concurrent sessions on the connection; 0 means
	// DefaultMaxSessions.
	MaxSessions int
}

// DialerOptions configure a Dialer shared by every connection of a run.
type DialerOptions struct {
	// AgentSocket is the ssh-agent socket; "" disables agent auth.
	AgentSocket string
	// AgentConns is how many connections to ssh-agent are shared by the
	// run's handshakes; 0 means DefaultAgentConns.
	AgentConns int
	// Passphrase returns the passphrase of an encrypted identity file (see
	// TerminalPassphrase). It is asked at most once per file, and not at all
	// for a file whose key the agent holds or that a passphrase given
	// earlier opens. When nil, PassphraseFile and then PassphraseEnv are
	// used; with none of the three, encrypted keys are skipped.
	Passphrase func(file string) ([]byte, error)
	// PassphraseFile holds the passphrase of encrypted identity files (for
	// CI); a trailing newline is ignored.
	PassphraseFile string
	// PassphraseEnv names an environment variable holding the passphrase.
	PassphraseEnv string
	// PasswordAuth enables password and keyboard-interactive
	// authentication, after keys, with the one password of the run, asked
	// from Password once (see TerminalPassword, PasswordFromFile).
	PasswordAuth bool
	Password     func(where string) ([]byte, error)
	// JumpHandshakes caps concurrent handshakes through one jump host so
	// that its MaxStartups is never tripped; 0 means DefaultJumpHandshakes.
	JumpHandshakes int
}

// Dialer opens SSH connections. It caches parsed keys, known_hosts files and
// jump-host connections for the whole run; it is safe for concurrent use.
type Dialer struct {
	opts   DialerOptions
	agents *agentPool
	ctx    context.Context // canceled by Close; shared dials live in it
	cancel context.CancelFunc

	mu          sync.Mutex
	identities  map[string]*signerEntry
	passphrases [][]byte
	hostKeys    map[string]*hostKeyStore
	jumps       map[string]*jumpConn
	agentPools  map[string]*agentPool // by IdentityAgent socket

	pwOnce sync.Once
	pw     []byte
	pwErr  error

	// handshakes, when set (by tests), is told of every handshake through
	// a jump host starting (+1) and ending (-1).
	handshakes func(jump string, delta int)
	// delayedACKs, set by a benchmark, leaves the kernel's delayed ACKs on
	// (see quickAck).
	delayedACKs bool
}

type jumpConn struct {
	ready  chan struct{}
	client *Client
	err    error
	slots  chan struct{}
}

// NewDialer returns a Dialer.
func NewDialer(opts DialerOptions) *Dialer {
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dialer{
		opts:       opts,
		ctx:        ctx,
		cancel:     cancel,
		identities: map[string]*signerEntry{},
		hostKeys:   map[string]*hostKeyStore{},
		jumps:      map[string]*jumpConn{},
		agentPools: map[string]*agentPool{},
	}
	if opts.AgentSocket != "" {
		d.agents = newAgentPool(opts.AgentSocket, opts.agentConns())
	}
	return d
}

// agentFor returns the agent pool for t: the Dialer's own, none, or one
// per IdentityAgent socket, shared by the run.
func (d *Dialer) agentFor(t Target) (*agentPool, error) {
	switch t.IdentityAgent {
	case "":
		return d.agents, nil
	case "none":
		return nil, nil
	}
	if _, err := os.Stat(t.IdentityAgent); err != nil {
		return nil, fmt.Errorf("IdentityAgent %s: %w", t.IdentityAgent, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.agentPools[t.IdentityAgent]
	if !ok {
		p = newAgentPool(t.IdentityAgent, d.opts.agentConns())
		d.agentPools[t.IdentityAgent] = p
	}
	return p, nil
}

// Close closes the shared jump-host connections and the agent connections.
func (d *Dialer) Close() error {
	d.cancel()
	d.mu.Lock()
	jumps := d.jumps
	d.jumps = map[string]*jumpConn{}
	d.mu.Unlock()
	for _, j := range jumps {
		<-j.ready
		if j.client != nil {
			j.client.Close()
		}
	}
	if d.agents != nil {
		d.agents.close()
	}
	d.mu.Lock()
	pools := d.agentPools
	d.agentPools = map[string]*agentPool{}
	d.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
	return nil
}

// Dial connects and authenticates to t, through its jump hosts if any.
func (d *Dialer) Dial(ctx context.Context, t Target) (*Client, error) {
	if len(t.Jump) > 0 && t.ProxyCommand != "" {
		return nil, &Error{Op: "dial", Host: t.Name, Category: CatInvalidValue, Err: errors.New("a ProxyCommand and jump hosts exclude each other")}
	}
	var via *jumpConn
	if len(t.Jump) > 0 {
		j, err := d.jump(ctx, t, len(t.Jump))
		if err != nil {
			return nil, &Error{Op: "dial", Host: t.Name, Category: CategoryOf(err), Err: err}
		}
		via = j
	}
	return d.dialHop(ctx, t, t.Hop, via)
}

// jump returns the shared connection to the n-th hop of t's jump chain
// (1-based), opening it and the hops before it as needed. The connection
// belongs to the run, not to the first target that needed it: a caller that
// gives up does not tear it down for the others.
func (d *Dialer) jump(ctx context.Context, t Target, n int) (*jumpConn, error) {
	chain := make([]string, n)
	for i := 0; i < n; i++ {
		h := t.Jump[i]
		if h.User == "" {
			h.User = t.User
		}
		chain[i] = h.key()
	}
	key := strings.Join(chain, ",")
	d.mu.Lock()
	j, ok := d.jumps[key]
	if ok && j.failed() {
		ok = false // a failed jump host is tried again by later targets
	}
	if !ok {
		j = &jumpConn{ready: make(chan struct{}), slots: make(chan struct{}, d.opts.jumpHandshakes())}
		d.jumps[key] = j
		go d.openJump(j, t, n)
	}
	d.mu.Unlock()
	select {
	case <-j.ready:
	case <-ctx.Done():
		cat := CatCanceled
		if ctx.Err() == context.DeadlineExceeded {
			cat = CatTimeout
		}
		return nil, &Error{Op: "dial", Host: t.Jump[n-1].addr(), Category: cat, Err: fmt.Errorf("waiting for jump host: %w", ctx.Err())}
	}
	if j.err != nil {
		return nil, fmt.Errorf("jump host %s: %w", t.Jump[n-1].addr(), j.err)
	}
	return j, nil
}

func (j *jumpConn) failed() bool {
	select {
	case <-j.ready:
		return j.err != nil
	default:
		return false
	}
}

func (d *Dialer) openJump(j *jumpConn, t Target, n int) {
	defer close(j.ready)
	var via *jumpConn
	if n > 1 {
		via, j.err = d.jump(d.ctx, t, n-1)
		if j.err != nil {
			return
		}
	}
	hop := t.Jump[n-1]
	if hop.User == "" {
		hop.User = t.User
	}
	j.client, j.err = d.dialHop(d.ctx, t, hop, via)
}

// dialHop opens one authenticated SSH connection to hop h of t, through
// the jump connection via when it is not the first hop.
func (d *Dialer) dialHop(ctx context.Context, t Target, h Hop, via *jumpConn) (*Client, error) {
	addr := h.addr()
	name := t.Name
	if h != t.Hop || name == "" {
		name = addr
	}
	conn, release, err := d.connect(ctx, t, h, via, name)
	if err != nil {
		return nil, err
	}
	defer release()
	cfg, tr, err := d.clientConfig(t, h, addr)
	if err != nil {
		conn.Close()
		return nil, &Error{Op: "handshake", Host: name, Category: CatHostKeyUnknown, Err: err}
	}
	return handshake(ctx, t, h, name, addr, conn, cfg, tr)
}

// connect opens the hop's byte stream: a channel through the jump host
// via (holding one of its handshake slots until release), the
// ProxyCommand's pipes, or a TCP connection.
func (d *Dialer) connect(ctx context.Context, t Target, h Hop, via *jumpConn, name string) (conn net.Conn, release func(), err error) {
	addr := h.addr()
	release = func() {}
	dctx, cancel := context.WithTimeout(ctx, t.connectTimeout())
	defer cancel()
	switch {
	case via != nil:
		select {
		case via.slots <- struct{}{}:
		case <-dctx.Done():
			return nil, nil, &Error{Op: "dial", Host: name, Category: dialCategory(ctx, dctx.Err()), Err: fmt.Errorf("waiting for a handshake slot on the jump host: %w", dctx.Err())}
		}
		if d.handshakes != nil {
			d.handshakes(via.client.name, 1)
		}
		release = func() {
			if d.handshakes != nil {
				d.handshakes(via.client.name, -1)
			}
			<-via.slots
		}
		conn, err = via.client.ssh.DialContext(dctx, "tcp", addr)
	case t.ProxyCommand != "" && h == t.Hop:
		if conn, err = proxyCommand(t, h); err != nil {
			return nil, nil, err
		}
	default:
		var nd net.Dialer
		conn, err = nd.DialContext(dctx, "tcp", addr)
		if err == nil && !d.delayedACKs {
			conn = quickAck(conn)
		}
	}
	if err == nil {
		return conn, release, nil
	}
	release()
	if via != nil && ctx.Err() == nil && !isTimeout(err) && !errors.Is(err, context.DeadlineExceeded) {
		// The jump host refused to open the channel: it reports why
		// (connect failed, administratively prohibited).
		return nil, nil, &Error{Op: "dial", Host: name, Category: jumpDialCategory(err), Err: fmt.Errorf("through %s: %w", via.client.name, err)}
	}
	return nil, nil, &Error{Op: "dial", Host: name, Category: dialCategory(ctx, err), Err: err}
}

// clientConfig is the hop's SSH client configuration: its user, how it
// authenticates (recorded in the returned trace) and how its host key is
// checked.
func (d *Dialer) clientConfig(t Target, h Hop, addr string) (*ssh.ClientConfig, *authTrace, error) {
	store, err := d.hostKeyStore(t.KnownHosts)
	if err != nil && t.HostKeyPolicy != "off" {
		return nil, nil, err
	}
	kc, lookup := keyCheck{policy: t.HostKeyPolicy, hash: t.HashKnownHosts}, addr
	if h == t.Hop && t.HostKeyAlias != "" {
		kc.alias, lookup = t.HostKeyAlias, net.JoinHostPort(t.HostKeyAlias, strconv.Itoa(DefaultPort))
	}
	tr := &authTrace{}
	cfg := &ssh.ClientConfig{
		User:            h.User,
		Auth:            d.authMethods(t, tr),
		HostKeyCallback: store.check(kc),
		Timeout:         t.connectTimeout(),
		AuthCallback: func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			tr.setAllowed(ac.AllowedMethods)
			return nil, nil
		},
	}
	if store != nil {
		cfg.HostKeyAlgorithms = store.algorithms(lookup)
	}
	return cfg, tr, nil
}

// handshake runs the SSH handshake on conn and authenticates, within the
// connect timeout, and tells why it failed.
func handshake(ctx context.Context, t Target, h Hop, name, addr string, conn net.Conn, cfg *ssh.ClientConfig, tr *authTrace) (*Client, error) {
	// x/crypto/ssh's Timeout covers only its own dial: the whole handshake,
	// authentication included, gets its own deadline, and cancellation
	// closes the socket. A channel through a jump host has no deadlines,
	// so a timer closes it instead.
	var expired atomic.Bool
	conn.SetDeadline(time.Now().Add(t.connectTimeout()))
	timer := time.AfterFunc(t.connectTimeout(), func() { expired.Store(true); conn.Close() })
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	timer.Stop()
	stop()
	if err != nil {
		proxyExited := false
		if pc, ok := conn.(*proxyConn); ok {
			// Before Close ends it: how the command ended, its stderr.
			err = pc.explain(err)
			proxyExited = pc.exited()
		}
		conn.Close()
		cat := handshakeCategory(ctx, err)
		if expired.Load() && CategoryOf(err) == "" && ctx.Err() == nil {
			cat = CatHandshakeTimeout
		}
		if cat == CatHandshakeTimeout {
			err = fmt.Errorf("no complete SSH handshake within %v: %w", t.connectTimeout(), err)
		}
		if proxyExited && cat == CatConnectionLost {
			cat = CatUnreachable
		}
		return nil, &Error{Op: "handshake", Host: name, Category: cat, Err: describeAuth(err, h, tr)}
	}
	conn.SetDeadline(time.Time{})
	return newClient(name, ssh.NewClient(sc, chans, reqs), t), nil
}

// jumpDialCategory tells why a jump host refused to open a channel to
// the next hop: x/crypto's *ssh.OpenChannelError (v0.59.0
// ssh/connection.go:14) carries the server's reason and message. OpenSSH
// (9.2p1) answers ConnectionFailed with strerror(3) of its connect(2)
// (channels.c:2031-2032) or gai_strerror(3) of its getaddrinfo(3)
// (channels.c:4632-4634); the texts are glibc's (2.36). Any other answer,
// or reason (administratively prohibited), is unreachable.
func jumpDialCategory(err error) Category {
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ssh.ConnectionFailed {
		return CatUnreachable
	}
	switch oe.Message {
	case "Connection refused": // ECONNREFUSED
		return CatConnectRefused
	case "No route to host", "Network is unreachable": // EHOSTUNREACH, ENETUNREACH
		return CatUnreachable
	case "Connection timed out": // ETIMEDOUT
		return CatConnectTimeout
	case "Name or service not known", "No address associated with hostname", "Temporary failure in name resolution":
		// EAI_NONAME, EAI_NODATA, EAI_AGAIN
		return CatDNS
	}
	return CatUnreachable
}

func dialCategory(ctx context.Context, err error) Category {
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

func handshakeCategory(ctx context.Context, err error) Category {
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
	case isAuthExhausted(err):
		return CatAuth
	}
	return CatConnectionLost
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Client is one authenticated SSH connection to a host. Every operation on
// the host shares it.
type Client struct {
	name     string
	ssh      *ssh.Client
	sessions *sessionGate
	done     chan struct{}
	closeMu  sync.Once
	lost     chan struct{}
	lostOnce sync.Once
	lostWhy  error

	// shell is the shell scripts share (RunScript); shellStarting is set
	// while one is being opened.
	shellMu       sync.Mutex
	shell         *shell
	shellStarting bool
}

func newClient(name string, c *ssh.Client, t Target) *Client {
	cl := &Client{name: name, ssh: c, sessions: newSessionGate(t.maxSessions()), done: make(chan struct{}), lost: make(chan struct{})}
	go cl.keepalive(t.keepaliveInterval())
	return cl
}

// Name is the host's name in errors.
func (c *Client) Name() string { return c.name }

// SSH returns the underlying x/crypto/ssh client, for protocols layered on
// the connection (sftp). Sessions opened on it should hold a slot
// (Acquire) so that the host's MaxSessions is respected.
func (c *Client) SSH() *ssh.Client { return c.ssh }

// Acquire takes one of the connection's session slots; release gives it
// back.
func (c *Client) Acquire(ctx context.Context) (release func(), err error) {
	// The shared shell, when idle, gives its slot to a session that needs it.
	if !c.sessions.tryAcquire() && !(c.closeIdleShell() && c.sessions.tryAcquire()) {
		err = c.sessions.acquire(ctx, c.lost)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, c.ctxErr(ctx, "run")
		}
		return nil, c.lostErr("run")
	}
	return c.sessions.release, nil
}

// sessionGate keeps the sessions open on a connection under a limit: the
// configured one at first, lowered to what the server actually allowed when
// it refuses a session (a MaxSessions below ours).
type sessionGate struct {
	mu       sync.Mutex
	limit    int
	inflight int // slots taken
	open     int // sessions the server accepted and that are still open
	wake     chan struct{}
}

func newSessionGate(limit int) *sessionGate {
	return &sessionGate{limit: limit, wake: make(chan struct{})}
}

func (g *sessionGate) acquire(ctx context.Context, lost <-chan struct{}) error {
	for {
		g.mu.Lock()
		if g.inflight < g.limit {
			g.inflight++
			g.mu.Unlock()
			return nil
		}
		w := g.wake
		g.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		case <-lost:
			return errors.New("connection lost")
		}
	}
}

// tryAcquire takes a slot if one is free.
func (g *sessionGate) tryAcquire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inflight < g.limit {
		g.inflight++
		return true
	}
	return false
}

func (g *sessionGate) broadcast() {
	close(g.wake)
	g.wake = make(chan struct{})
}

func (g *sessionGate) release() {
	g.mu.Lock()
	g.inflight--
	g.broadcast()
	g.mu.Unlock()
}

func (g *sessionGate) opened(delta int) {
	g.mu.Lock()
	g.open += delta
	if delta < 0 {
		g.broadcast()
	}
	g.mu.Unlock()
}

// refused records that the server refused a session while others were
// open, lowering the limit to what it accepted. It reports false when no
// other session was open: the refusal is then not about MaxSessions.
func (g *sessionGate) refused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open == 0 {
		return false
	}
	if g.open < g.limit {
		g.limit = g.open
	}
	return true
}

// Limit is the current session limit of the connection.
func (c *Client) Limit() int {
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	return c.sessions.limit
}

// newSession opens a session, waiting for a slot; when the server refuses
// it because of its MaxSessions, the limit is lowered and it waits for
// another session to end.
func (c *Client) newSession(ctx context.Context) (*ssh.Session, func(), error) {
	for attempt := 0; ; attempt++ {
		release, err := c.Acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		var s *ssh.Session
		err = c.awaitLate(ctx, "a new session", func() (err error) {
			s, err = c.ssh.NewSession()
			return err
		}, func() { s.Close() })
		if err == nil {
			c.sessions.opened(1)
			return s, func() { c.sessions.opened(-1); release() }, nil
		}
		release()
		var oc *ssh.OpenChannelError
		if !errors.As(err, &oc) {
			return nil, nil, c.sessionErr(err)
		}
		if !c.sessions.refused() {
			// Nothing else is open: the server may still be tearing down a
			// session that just ended. Try a few times before giving up.
			if attempt >= sessionRetries {
				return nil, nil, c.sessionErr(err)
			}
			select {
			case <-time.After(time.Duration(attempt+1) * sessionRetryStep):
			case <-ctx.Done():
				return nil, nil, c.ctxErr(ctx, "run")
			}
		}
	}
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
				c.drop(fmt.Errorf("keepalive: %w", err))
				return
			}
			missed = 0
		case <-t.C:
			if pending {
				missed++
				if missed >= keepaliveMisses {
					c.drop(fmt.Errorf("the host stopped answering: no reply to keepalives for %v", keepaliveMisses*interval))
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

// stallGrace is how long a host that has not answered a wait (see await)
// when the wait's context ended keeps its connection: one that answers
// within it is only slow, and the commands that clean up after a canceled
// claim can still run on it; one that does not has stalled, and its
// connection is closed.
const stallGrace = 2 * time.Second

// await runs wait, one of x/crypto/ssh's waits for the host's answer (a
// channel open, a request's reply, a write into the channel's window) that
// look at no context, and returns its error; when ctx ends first, it
// returns ctx's error (timeout or canceled) at once and leaves wait
// behind. If the host has not answered stallGrace later, the connection
// is closed, which ends wait: a host that stalls after its handshake,
// while it still answers keepalives, then fails every later operation too
// instead of holding the run past its deadline.
func (c *Client) await(ctx context.Context, what string, wait func() error) error {
	return c.awaitLate(ctx, what, wait, nil)
}

// awaitLate is await; late, when not nil, is called if wait succeeds after
// it was left behind, to undo what it got (close a session nobody uses).
func (c *Client) awaitLate(ctx context.Context, what string, wait func() error, late func()) error {
	if ctx.Done() == nil {
		return wait()
	}
	if ctx.Err() != nil {
		return c.ctxErr(ctx, "run")
	}
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	why := ctx.Err()
	go func() {
		t := time.NewTimer(stallGrace)
		defer t.Stop()
		var err error
		select {
		case err = <-done:
		case <-t.C:
			c.drop(fmt.Errorf("closed by fleetclaim: no answer from the host to %s within %v of the end of its wait (%w)", what, stallGrace, why))
			err = <-done
		}
		if err == nil && late != nil {
			late()
		}
	}()
	return c.ctxErr(ctx, "run")
}

func (c *Client) drop(why error) {
	c.lostOnce.Do(func() {
		c.lostWhy = why
		close(c.lost)
	})
	c.ssh.Close()
}

func (c *Client) lostErr(op string) error {
	return &Error{Op: op, Host: c.name, Category: CatConnectionLost, Err: c.lostWhy}
}

// Close closes the connection and every session on it. An idle shared
// shell is first told its input is over, so that it exits on the host as
// after any session; the connection then closes when the shell has ended
// (or after a second), without the caller waiting for it.
func (c *Client) Close() error {
	var err error
	c.closeMu.Do(func() {
		close(c.done)
		if sh := c.takeIdleShell(); sh != nil && !sh.dead() {
			sh.stdin.Close()
			go func() {
				select {
				case <-sh.ended:
				case <-time.After(shellExitWait):
				}
				c.ssh.Close()
			}()
			return
		}
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

// Exec is one command with streamed input and output, for callers that
// react to what the host prints while the command runs (Privileged).
type Exec struct {
	Cmd   string
	Stdin io.Reader
	// Stdout and Stderr receive the output as it arrives; nil discards it.
	Stdout, Stderr io.Writer
	// PTY runs the command on a pseudo-terminal in raw mode without echo
	// (what sudo's requiretty wants); stderr then arrives on Stdout.
	PTY bool
}

// Streamer is a Runner that can also stream (*Client and Local).
type Streamer interface {
	Runner
	Exec(ctx context.Context, e Exec) (exitCode int, err error)
}

// Run implements Runner.
func (c *Client) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	return c.run(ctx, cmd, stdin, false)
}

// RunPTY is Run on a pseudo-terminal in raw mode without echo: stdout and
// stderr arrive merged in Stdout.
func (c *Client) RunPTY(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	return c.run(ctx, cmd, stdin, true)
}

func (c *Client) run(ctx context.Context, cmd string, stdin io.Reader, pty bool) (Result, error) {
	var out, errb limitedBuffer
	out.max, errb.max = MaxOutput, MaxOutput
	code, err := c.Exec(ctx, Exec{Cmd: cmd, Stdin: stdin, Stdout: &out, Stderr: &errb, PTY: pty})
	if err != nil && ctx.Err() != nil {
		// Exec returned without waiting for a command it signalled: the
		// session may still be writing into the buffers.
		return Result{}, err
	}
	return Result{Stdout: out.b, Stderr: errb.b, ExitCode: code, Truncated: out.cut || errb.cut}, err
}

// rawModes returns the terminal modes of a PTY session: bytes pass
// unchanged in both directions and nothing is echoed.
func rawModes() ssh.TerminalModes {
	return ssh.TerminalModes{
		ssh.ECHO: 0, ssh.ECHONL: 0, ssh.ICANON: 0, ssh.ISIG: 0, ssh.IEXTEN: 0,
		ssh.ICRNL: 0, ssh.INLCR: 0, ssh.IGNCR: 0, ssh.IXON: 0, ssh.IXOFF: 0, ssh.ISTRIP: 0,
		ssh.OPOST: 0, ssh.ONLCR: 0,
		ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400,
	}
}

// Exec implements Streamer. The session holds one of the connection's
// slots; a canceled context signals the command (TERM, then KILL) and
// closes its session.
func (c *Client) Exec(ctx context.Context, e Exec) (int, error) {
	s, release, err := c.newSession(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	if err := c.startExec(ctx, s, e); err != nil {
		s.Close()
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
		s.Close()
	case <-ctx.Done():
		s.Signal(ssh.SIGTERM)
		go func() {
			select {
			case <-done:
			case <-time.After(killGrace):
				s.Signal(ssh.SIGKILL)
			}
			s.Close()
		}()
		return 0, c.ctxErr(ctx, "run")
	}
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitStatus()
		if ee.Signal() != "" && code == 0 {
			code = 128
		}
		return code, nil
	}
	return 0, c.sessionErr(err)
}

// startExec starts e's command on session s: its terminal when it wants
// one, its output, and its input, copied by a goroutine of its own so that
// waiting for the command never waits for a reader that is still blocked.
func (c *Client) startExec(ctx context.Context, s *ssh.Session, e Exec) error {
	if e.PTY {
		err := c.await(ctx, "a pseudo-terminal request", func() error { return s.RequestPty("dumb", 24, 200, rawModes()) })
		if err != nil {
			if CategoryOf(err) != "" {
				return err
			}
			return &Error{Op: "run", Host: c.name, Category: CatCommand, Err: fmt.Errorf("pseudo-terminal: %w", err)}
		}
	}
	s.Stdout, s.Stderr = e.Stdout, e.Stderr
	if s.Stdout == nil {
		s.Stdout = io.Discard
	}
	if s.Stderr == nil {
		s.Stderr = io.Discard
	}
	var in io.WriteCloser
	if e.Stdin != nil {
		var err error
		if in, err = s.StdinPipe(); err != nil {
			return c.sessionErr(err)
		}
	}
	if err := c.await(ctx, "a command", func() error { return s.Start(e.Cmd) }); err != nil {
		return c.sessionErr(err)
	}
	if in != nil {
		go func() {
			io.Copy(in, e.Stdin)
			in.Close()
		}()
	}
	return nil
}

func (c *Client) sessionErr(err error) error {
	if CategoryOf(err) != "" {
		return err // already explained (await: the context ended)
	}
	select {
	case <-c.lost:
		return &Error{Op: "run", Host: c.name, Category: CatConnectionLost, Err: fmt.Errorf("%w (%v)", c.lostWhy, err)}
	default:
	}
	var oc *ssh.OpenChannelError
	if errors.As(err, &oc) {
		return &Error{Op: "run", Host: c.name, Category: CatCommand, Err: fmt.Errorf("the host refused a new session (MaxSessions?): %w", err)}
	}
	return &Error{Op: "run", Host: c.name, Category: CatConnectionLost, Err: err}
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
		select {
		case <-c.lost:
			return nil, c.lostErr("forward")
		default:
		}
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

// ReadFrom reads r to its end into the buffer (what is past max is counted
// as cut and dropped). io.Copy, which x/crypto/ssh uses for a session's
// stdout and stderr, then reads straight into the buffer instead of
// allocating a 32 KiB copy buffer per stream: two per session, ~120 MB of
// garbage per 1,000 lab hosts claimed.
func (l *limitedBuffer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	var drop [512]byte
	for {
		p := drop[:]
		room := l.max - len(l.b)
		if room > 0 {
			if len(l.b) == cap(l.b) {
				grow := min(room, max(512, cap(l.b)))
				l.b = append(l.b[:cap(l.b)], make([]byte, grow)...)[:len(l.b)]
			}
			p = l.b[len(l.b):min(cap(l.b), l.max)]
		}
		n, err := r.Read(p)
		total += int64(n)
		if room > 0 {
			l.b = l.b[:len(l.b)+n]
		} else if n > 0 {
			l.cut = true
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
