package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/procgroup"
)

// proxyStderrMax bounds what is kept of a ProxyCommand's stderr for error
// messages.
const proxyStderrMax = 4 << 10

// proxyTokenSafe are the characters a ProxyCommand token value may hold:
// values go into a shell command line unquoted, as OpenSSH puts them.
const proxyTokenSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@[]"

// expandProxyCommand replaces the tokens OpenSSH replaces in a ProxyCommand
// (sshconnect.c expand_proxy_command, 9.2p1: %h %n %p %r %%). A value that
// a shell would interpret is refused, never substituted.
func expandProxyCommand(cmd string, t Target, h Hop) (string, error) {
	tokens := map[byte]string{'%': "%", 'h': h.Address, 'n': t.Name, 'p': strconv.Itoa(h.port()), 'r': h.User}
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '%' {
			b.WriteByte(cmd[i])
			continue
		}
		if i+1 >= len(cmd) {
			return "", errors.New("ProxyCommand ends with %")
		}
		i++
		v, ok := tokens[cmd[i]]
		if !ok {
			return "", fmt.Errorf("ProxyCommand: unknown token %%%c (known: %%h %%p %%r %%n %%%%)", cmd[i])
		}
		if cmd[i] != '%' && (v == "" || strings.Trim(v, proxyTokenSafe) != "") {
			return "", fmt.Errorf("ProxyCommand: %%%c would be %q, which a shell would interpret", cmd[i], v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// proxyConn is the connection a ProxyCommand provides: its stdout and
// stdin. Closing it ends the command (its whole process group).
type proxyConn struct {
	cmd    *exec.Cmd
	r, w   *os.File // our ends: the command's stdout, its stdin
	stderr *limitedBuffer
	done   chan struct{}
	werr   error
	once   sync.Once
	local  net.Addr
	remote net.Addr
}

// proxyCommand starts t's ProxyCommand for hop h.
func proxyCommand(t Target, h Hop) (net.Conn, error) {
	line, err := expandProxyCommand(t.ProxyCommand, t, h)
	if err != nil {
		return nil, &Error{Op: "dial", Host: t.Name, Category: CatInvalidValue, Err: err}
	}
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, &Error{Op: "dial", Host: t.Name, Category: CatUnreachable, Err: err}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, &Error{Op: "dial", Host: t.Name, Category: CatUnreachable, Err: err}
	}
	c := &proxyConn{r: outR, w: inW, stderr: &limitedBuffer{max: proxyStderrMax}, done: make(chan struct{})}
	// As OpenSSH runs it: the user's shell, "exec" so that the shell does
	// not stay in between.
	c.cmd = exec.Command(shell, "-c", "exec "+line)
	c.cmd.Stdin, c.cmd.Stdout = inR, outW
	c.cmd.Stderr = &lockedWriter{w: c.stderr}
	procgroup.Own(c.cmd)
	err = c.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		outR.Close()
		inW.Close()
		return nil, &Error{Op: "dial", Host: t.Name, Category: CatUnreachable, Err: fmt.Errorf("ProxyCommand %q: %w", line, err)}
	}
	go func() { c.werr = c.cmd.Wait(); close(c.done) }()
	c.local = &net.UnixAddr{Name: "proxycommand", Net: "unix"}
	c.remote = proxyAddr{h.addr()}
	return c, nil
}

// proxyAddr is the target's address as the ProxyCommand was given it.
type proxyAddr struct{ s string }

func (a proxyAddr) Network() string { return "tcp" }
func (a proxyAddr) String() string  { return a.s }

func (c *proxyConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *proxyConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *proxyConn) LocalAddr() net.Addr         { return c.local }
func (c *proxyConn) RemoteAddr() net.Addr        { return c.remote }

func (c *proxyConn) SetDeadline(t time.Time) error {
	return errors.Join(c.r.SetReadDeadline(t), c.w.SetWriteDeadline(t))
}
func (c *proxyConn) SetReadDeadline(t time.Time) error  { return c.r.SetReadDeadline(t) }
func (c *proxyConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }

// Close ends the connection and the command: its stdin closed, then TERM to
// its process group, KILL if it is still there a second later.
func (c *proxyConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		c.r.Close()
		if c.exited() {
			return // its group id may belong to someone else by now
		}
		_ = procgroup.Term(c.cmd)
		go func() {
			select {
			case <-c.done:
			case <-time.After(killGrace):
				_ = procgroup.Kill(c.cmd)
			}
		}()
	})
	return nil
}

// exited reports whether the command has ended.
func (c *proxyConn) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// explain adds to a handshake error how the ProxyCommand ended and what it
// wrote on stderr (bounded), when it ended before the handshake did.
func (c *proxyConn) explain(err error) error {
	select {
	case <-c.done:
	case <-time.After(proxyExitWait):
		return err
	}
	msg := strings.TrimSpace(c.stderr.String())
	status := "exited"
	if c.werr != nil {
		status = c.werr.Error()
	}
	if msg != "" {
		return fmt.Errorf("ProxyCommand %s: %q: %w", status, msg, err)
	}
	return fmt.Errorf("ProxyCommand %s: %w", status, err)
}

// lockedWriter serialises writes into a limitedBuffer read by explain.
type lockedWriter struct {
	mu sync.Mutex
	w  *limitedBuffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *limitedBuffer) String() string { return string(l.b) }
