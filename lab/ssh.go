package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// maxSessions is how many sessions one connection may have open at once
// (OpenSSH's MaxSessions default).
const maxSessions = 10

// serverVersion is what lab hosts announce. It deliberately does not claim to
// be OpenSSH, so OpenSSH clients apply no server-specific compatibility quirks.
const serverVersion = "SSH-2.0-fleetclaim_lab"

// defaultPath is the PATH commands run with: the system's, as sshd sets it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// host is one lab host: an SSH server on its own port and its agent.
type host struct {
	index       int
	name        string
	group       string
	personality Personality
	paths       hostPaths
	guid        string
	port        int
	hostKey     ssh.Signer // the key known_hosts lists
	config      *ssh.ServerConfig
	agent       *agent // on a host without Netdata, not installed until kickstart
	lab         *Lab
	flaked      atomic.Bool // a flaky host has dropped its first connection
	web         hostWeb     // the agent's own TCP web port (Options.TCPWeb)
	// drops are the connections an ssh-drop host closes as soon as a claim
	// lands: those with a session that started while the agent was not
	// claimed.
	dropMu sync.Mutex
	drops  map[*ssh.ServerConn]int
}

// watchDrop makes conn one the ssh-drop fault closes when a claim lands,
// until the returned func is called.
func (h *host) watchDrop(conn *ssh.ServerConn) (unwatch func()) {
	h.dropMu.Lock()
	defer h.dropMu.Unlock()
	if h.drops == nil {
		h.drops = map[*ssh.ServerConn]int{}
	}
	h.drops[conn]++
	return func() {
		h.dropMu.Lock()
		defer h.dropMu.Unlock()
		if h.drops[conn]--; h.drops[conn] <= 0 {
			delete(h.drops, conn)
		}
	}
}

// claimLanded closes, on an ssh-drop host, the connections whose session
// was running when the agent got claimed: the claim holds, but the client
// never learns the outcome, whether its session is a single claim command
// or a shell it keeps open for more.
func (h *host) claimLanded() {
	h.dropMu.Lock()
	defer h.dropMu.Unlock()
	for c := range h.drops {
		_ = c.Close()
	}
}

// newServerConfig builds the host's SSH server configuration.
func (h *host) newServerConfig(clientKey ssh.PublicKey, served ssh.Signer) {
	want := clientKey.Marshal()
	reject := h.personality.Has(FaultAuthReject)
	cfg := &ssh.ServerConfig{
		ServerVersion: serverVersion,
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if !reject && bytes.Equal(key.Marshal(), want) {
				return nil, nil
			}
			return nil, errors.New("public key not accepted")
		},
	}
	cfg.AddHostKey(served)
	h.config = cfg
}

// serveConn runs one SSH connection.
func (h *host) serveConn(nc net.Conn) {
	l := h.lab
	if !l.track(nc) {
		nc.Close()
		return
	}
	defer l.untrack(nc)
	defer nc.Close()
	l.stats.conns.Add(1)
	if h.faultBeforeHandshake(nc) {
		return
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(nc, h.config)
	if err != nil {
		l.stats.authFailures.Add(1)
		return
	}
	l.stats.handshakes.Add(1)
	_ = nc.SetDeadline(time.Time{})
	defer conn.Close()
	go func() {
		for req := range reqs {
			// keepalive@openssh.com, no-more-sessions@openssh.com, tcpip-forward...:
			// answered, never granted, as sshd answers requests it does not serve.
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}()
	h.serveChannels(conn, chans)
}

// faultBeforeHandshake plays the host's fault of the connection's start,
// if it has one (the first connection dropped, a silent or a stalled
// server), and reports whether it did.
func (h *host) faultBeforeHandshake(nc net.Conn) bool {
	if h.dropFirstConn() {
		return true
	}
	switch {
	case h.personality.Has(FaultSSHSilent):
		_, _ = io.Copy(io.Discard, nc)
		return true
	case h.personality.Has(FaultSSHStall):
		_, _ = io.WriteString(nc, serverVersion+"\r\n")
		_, _ = io.Copy(io.Discard, nc)
		return true
	}
	return false
}

// serveChannels serves the connection's channels until it ends: up to
// maxSessions sessions at once, direct-tcpip to the agent's web port.
func (h *host) serveChannels(conn *ssh.ServerConn, chans <-chan ssh.NewChannel) {
	var sessions atomic.Int32
	var wg sync.WaitGroup
	var held []ssh.NewChannel // FaultSessionStall: never answered
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			if h.holdsChannelOpens() {
				held = append(held, nch)
				continue
			}
			if sessions.Add(1) > maxSessions {
				sessions.Add(-1)
				_ = nch.Reject(ssh.ResourceShortage, "too many open sessions")
				continue
			}
			ch, creqs, err := nch.Accept()
			if err != nil {
				sessions.Add(-1)
				continue
			}
			h.lab.stats.sessions.Add(1)
			wg.Go(func() {
				defer sessions.Add(-1)
				h.serveSession(conn, ch, creqs)
			})
		case "direct-tcpip":
			h.serveDirect(nch)
		default:
			_ = nch.Reject(ssh.UnknownChannelType, "unknown channel type")
		}
	}
	wg.Wait()
	_ = held
}

// serveDirect answers a direct-tcpip request: only the agent's web port on
// the host's loopback is reachable, and it is served in memory.
func (h *host) serveDirect(nch ssh.NewChannel) {
	var req struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &req); err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	loopback := req.Host == "127.0.0.1" || req.Host == "localhost" || req.Host == "::1"
	if !loopback {
		_ = nch.Reject(ssh.Prohibited, "administratively prohibited: open failed")
		return
	}
	if h.agent == nil || h.agent.apiPort() == 0 || int(req.Port) != h.agent.apiPort() {
		// Nothing listens there on the host: what sshd reports when its
		// connect() to the destination is refused.
		_ = nch.Reject(ssh.ConnectionFailed, "Connection refused")
		return
	}
	ch, creqs, err := nch.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(creqs)
	h.lab.stats.forwards.Add(1)
	h.lab.api.push(&chanConn{Channel: ch, host: h, port: int(req.Port),
		remote: &net.TCPAddr{IP: net.ParseIP(req.OrigHost), Port: int(req.OrigPort)}})
}

// session is one SSH session channel.
type session struct {
	h      *host
	conn   *ssh.ServerConn
	ch     ssh.Channel
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited bool
	pty    bool // a pty-req was granted
}

func (h *host) serveSession(conn *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	s := &session{h: h, conn: conn, ch: ch}
	started := false
	done := make(chan struct{})
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				// The client closed the channel or went away: end what still runs.
				s.kill()
				if started {
					<-done
				}
				_ = ch.Close()
				return
			}
			switch req.Type {
			case "exec", "shell", "subsystem":
				if h.holdsExecs() && req.Type != "subsystem" {
					continue // FaultExecStall: never answered
				}
				if started {
					_ = req.Reply(false, nil)
					continue
				}
				run, ok := s.prepare(req)
				_ = req.Reply(ok, nil)
				if ok {
					started = true
					go func() {
						defer close(done)
						run()
					}()
				}
			case "pty-req":
				// Accepted; commands still run without a terminal.
				s.pty = true
				_ = req.Reply(true, nil)
			case "signal":
				var sig struct{ Name string }
				if ssh.Unmarshal(req.Payload, &sig) == nil {
					s.signal(sig.Name)
				}
			default: // env, window-change, auth-agent-req@openssh.com, x11-req, ...
				if req.WantReply {
					_ = req.Reply(false, nil)
				}
			}
		case <-done:
			// The command finished: drain what is left of the requests, then close.
			go ssh.DiscardRequests(reqs)
			_ = ch.Close()
			return
		}
	}
}

// prepare validates an exec/shell/subsystem request and returns what runs it.
func (s *session) prepare(req *ssh.Request) (func(), bool) {
	switch req.Type {
	case "exec":
		var p struct{ Command string }
		if ssh.Unmarshal(req.Payload, &p) != nil {
			return nil, false
		}
		s.h.lab.stats.execs.Add(1)
		return func() { s.runShell([]string{"-c", p.Command}, p.Command) }, true
	case "shell":
		s.h.lab.stats.execs.Add(1)
		return func() { s.runShell(nil, "") }, true
	case "subsystem":
		var p struct{ Name string }
		if ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
			return nil, false
		}
		s.h.lab.stats.sftp.Add(1)
		return s.runSFTP, true
	}
	return nil, false
}

func (s *session) environ() []string {
	h := s.h
	remote, _ := s.conn.RemoteAddr().(*net.TCPAddr)
	rip, rport := "127.0.0.1", 0
	if remote != nil {
		rip, rport = remote.IP.String(), remote.Port
	}
	path := "PATH=" + defaultPath
	var extra []string
	if h.personality.Kind == KindDocker {
		// The docker stand-in comes first on PATH; DOCKER_HOST names its socket.
		env := h.paths.dockerEnv()
		path, extra = env[0], env[1:]
	}
	return append([]string{
		"HOME=" + h.paths.prefix,
		path,
		"USER=" + h.lab.runUser,
		"LOGNAME=" + h.lab.runUser,
		"SHELL=/bin/sh",
		"LANG=C.UTF-8",
		fmt.Sprintf("SSH_CLIENT=%s %d %d", rip, rport, h.port),
		fmt.Sprintf("SSH_CONNECTION=%s %d 127.0.0.1 %d", rip, rport, h.port),
		// Which lab host this is, for the kickstart.sh stand-in, which
		// installs at the host's root, as the real one installs a static
		// build in /opt/netdata (lab/kickstart.go).
		"FLEETCLAIM_LAB_HOST=" + h.name,
	}, extra...)
}

// runShell runs /bin/sh with args, wired to the channel, and reports its exit.
func (s *session) runShell(args []string, command string) {
	cmd := exec.Command("/bin/sh", s.h.shellArgs(args, command)...)
	cmd.Dir = s.h.paths.prefix
	cmd.Env = s.h.loginEnv(s.h.faultEnv(s.environ()))
	if s.pty {
		// The session asked for a terminal: the lab runs commands
		// without one, but says so to the host's sudo (requiretty).
		cmd.Env = append(cmd.Env, "FLEETCLAIM_LAB_PTY=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.h.faultCredential()}
	s.h.loginSysProcAttr(cmd.SysProcAttr)
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(s.ch.Stderr(), "fleetclaim lab: cannot run /bin/sh: %v\n", err)
		s.exit(127, "")
		return
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	claimedBefore := s.h.agentClaimed()
	if s.h.personality.Has(FaultSSHDrop) && !claimedBefore {
		defer s.h.watchDrop(s.conn)()
	}
	s.h.lab.trackProc(cmd.Process.Pid)
	defer s.h.lab.untrackProc(cmd.Process.Pid)
	go func() {
		_, _ = io.Copy(stdin, s.ch)
		_ = stdin.Close()
	}()
	err = cmd.Wait()
	s.mu.Lock()
	s.exited = true
	s.mu.Unlock()
	if s.h.personality.Has(FaultSSHDrop) && (isClaimCommand(command) || !claimedBefore && s.h.agentClaimed()) {
		_ = s.conn.Close() // dropped mid-claim: the client never learns the outcome
		return
	}
	code, sig := 0, ""
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = signalName(ws.Signal())
		} else {
			code = ee.ExitCode()
		}
	} else if err != nil {
		code = 255
	}
	s.exit(code, sig)
}

func isClaimCommand(c string) bool {
	return strings.Contains(c, "reload-claiming-state") || strings.Contains(c, "netdata-claim.sh")
}

func (s *session) exit(code int, sig string) {
	_ = s.ch.CloseWrite()
	if sig != "" {
		_, _ = s.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Msg        string
			Lang       string
		}{Signal: sig}))
		return
	}
	_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
}

func (s *session) runSFTP() {
	srv, err := sftp.NewServer(s.ch, sftp.WithServerWorkingDirectory(s.h.paths.prefix))
	if err != nil {
		s.exit(1, "")
		return
	}
	err = srv.Serve()
	_ = srv.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		s.exit(1, "")
		return
	}
	s.exit(0, "")
}

// kill ends the session's process group (the client went away).
func (s *session) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.exited {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (s *session) signal(name string) {
	sigs := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT,
		"HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2}
	sig, ok := sigs[name]
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok && s.cmd != nil && !s.exited {
		_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	}
}

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGPIPE:
		return "PIPE"
	case syscall.SIGSEGV:
		return "SEGV"
	case syscall.SIGABRT:
		return "ABRT"
	case syscall.SIGQUIT:
		return "QUIT"
	default:
		return strconv.Itoa(int(sig))
	}
}

// chanConn is an SSH channel seen as a net.Conn by the agent API server.
type chanConn struct {
	ssh.Channel
	host   *host
	port   int
	remote net.Addr
}

var _ net.Conn = (*chanConn)(nil)

func (c *chanConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.port}
}
func (c *chanConn) RemoteAddr() net.Addr             { return c.remote }
func (c *chanConn) SetDeadline(time.Time) error      { return nil }
func (c *chanConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chanConn) SetWriteDeadline(time.Time) error { return nil }

// apiListener hands forwarded channels of every host to one shared
// http.Server: no listener and no goroutine per host for the agent API.
type apiListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newAPIListener() *apiListener {
	return &apiListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *apiListener) push(c *chanConn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *apiListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *apiListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *apiListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: agentWebPort}
}

type hostCtxKey struct{}

// apiConnContext tags each agent API connection with its host.
func apiConnContext(ctx context.Context, c net.Conn) context.Context {
	switch cc := c.(type) {
	case *chanConn:
		return context.WithValue(ctx, hostCtxKey{}, cc.host)
	case *webConn:
		return context.WithValue(ctx, hostCtxKey{}, cc.host)
	}
	return ctx
}
