package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// ScriptRunner runs POSIX sh scripts. *Client implements it with one shell
// kept open per connection, so that a host's scripts (the probe, the claim)
// share one session instead of opening one each: on a real sshd a session
// is a fork, a login shell and an exec on the host.
type ScriptRunner interface {
	// RunScript runs script with sh, its positional parameters set to
	// args, its stdin empty. A non-zero exit is not an error.
	RunScript(ctx context.Context, script string, args ...string) (Result, error)
}

// RunScript runs script with args on r: in r's shared shell when r is a
// ScriptRunner, else as `exec sh -s -- ARGS` with the script on stdin.
func RunScript(ctx context.Context, r Runner, script string, args ...string) (Result, error) {
	if sr, ok := r.(ScriptRunner); ok {
		return sr.RunScript(ctx, script, args...)
	}
	cmd, err := scriptCommand(args)
	if err != nil {
		return Result{}, err
	}
	return r.Run(ctx, cmd, strings.NewReader(script))
}

// scriptCommand is the command that runs a script given on stdin: the login
// shell hands over to sh (one process, not two).
func scriptCommand(args []string) (string, error) {
	if len(args) == 0 {
		return "exec sh -s", nil
	}
	q := &Quoter{}
	cmd := "exec sh -s -- " + q.Join(args)
	return cmd, q.Err
}

// RunScript implements ScriptRunner: the script runs in the connection's
// shared shell, started on first use. When that shell is busy with another
// script, the script gets a session of its own.
func (c *Client) RunScript(ctx context.Context, script string, args ...string) (Result, error) {
	sh, err := c.sharedShell(ctx)
	if err != nil {
		return Result{}, err
	}
	if sh == nil {
		cmd, err := scriptCommand(args)
		if err != nil {
			return Result{}, err
		}
		return c.Run(ctx, cmd, strings.NewReader(script))
	}
	defer sh.mu.Unlock()
	res, err := sh.run(ctx, script, args)
	if err != nil {
		c.dropShell(sh)
	}
	return res, err
}

// sharedShell returns the connection's shell, locked for the caller, or nil
// when it is busy (or being started for another script).
func (c *Client) sharedShell(ctx context.Context) (*shell, error) {
	c.shellMu.Lock()
	sh := c.shell
	if sh == nil {
		if c.shellStarting {
			c.shellMu.Unlock()
			return nil, nil
		}
		c.shellStarting = true
		c.shellMu.Unlock()
		sh, err := c.startShell(ctx)
		c.shellMu.Lock()
		defer c.shellMu.Unlock()
		c.shellStarting = false
		if err != nil {
			return nil, err
		}
		c.shell = sh
		sh.mu.Lock()
		return sh, nil
	}
	ok := sh.mu.TryLock()
	c.shellMu.Unlock()
	if !ok {
		return nil, nil
	}
	if sh.dead() {
		sh.mu.Unlock()
		c.dropShell(sh)
		return c.sharedShell(ctx)
	}
	return sh, nil
}

// dropShell closes sh and forgets it, if it is still the shared one.
func (c *Client) dropShell(sh *shell) {
	c.shellMu.Lock()
	if c.shell == sh {
		c.shell = nil
	}
	c.shellMu.Unlock()
	sh.close()
}

// takeIdleShell removes the shared shell from the connection when no script
// runs in it, and returns it locked; nil when there is none or it is busy.
func (c *Client) takeIdleShell() *shell {
	c.shellMu.Lock()
	defer c.shellMu.Unlock()
	sh := c.shell
	if sh == nil || !sh.mu.TryLock() {
		return nil
	}
	c.shell = nil
	return sh
}

// closeIdleShell closes the shared shell when no script runs in it, giving
// its session slot back; it reports whether it did.
func (c *Client) closeIdleShell() bool {
	sh := c.takeIdleShell()
	if sh == nil {
		return false
	}
	sh.mu.Unlock()
	sh.close()
	return true
}

// shell is one `sh -s` session whose stdin stays open: scripts are written
// to it one after another, each in a subshell with its stdin on /dev/null
// (so that nothing a script runs can read the scripts after it), followed
// by a marker line on stdout (with the exit code) and on stderr. The marker
// holds 128 random bits, so no script's output can forge it.
type shell struct {
	mu      sync.Mutex // held while a script runs
	c       *Client
	s       *ssh.Session
	release func()
	stdin   io.WriteCloser
	marker  string
	out     *frameSink
	errOut  *frameSink
	ended   chan struct{} // closed when the session ends
	endErr  error
	closeMu sync.Once
}

func (c *Client) startShell(ctx context.Context) (*shell, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	marker := "fleetclaim-" + hex.EncodeToString(b[:])
	s, release, err := c.newSession(ctx)
	if err != nil {
		return nil, err
	}
	sh := &shell{c: c, s: s, release: release, marker: marker, ended: make(chan struct{}),
		out: newFrameSink(marker, true), errOut: newFrameSink(marker, false)}
	sh.out.skip, sh.errOut.skip = 1, 1
	s.Stdout, s.Stderr = sh.out, sh.errOut
	if sh.stdin, err = s.StdinPipe(); err != nil {
		s.Close()
		release()
		return nil, c.sessionErr(err)
	}
	if err := c.await(ctx, "a command", func() error { return s.Start("exec sh -s") }); err != nil {
		s.Close()
		release()
		return nil, c.sessionErr(err)
	}
	go func() {
		sh.endErr = s.Wait()
		close(sh.ended)
		sh.out.end()
		sh.errOut.end()
	}()
	// What a login shell prints before the first script (a banner from a
	// start-up file) ends at this first marker and is dropped.
	if err := c.await(ctx, "the shell's input", func() error { return sh.write(sh.markers()) }); err != nil {
		sh.close()
		return nil, c.sessionErr(err)
	}
	return sh, nil
}

func (sh *shell) markers() string {
	return "printf '\\n%s %d\\n' " + sh.marker + " \"$?\"; printf '\\n%s\\n' " + sh.marker + " >&2\n"
}

func (sh *shell) write(s string) error {
	_, err := io.WriteString(sh.stdin, s)
	return err
}

func (sh *shell) dead() bool {
	select {
	case <-sh.ended:
		return true
	default:
		return false
	}
}

func (sh *shell) close() {
	sh.closeMu.Do(func() {
		sh.stdin.Close()
		if !sh.dead() {
			sh.s.Signal(ssh.SIGTERM)
		}
		sh.s.Close()
		sh.release()
	})
}

// run runs one script; the caller holds sh.mu. Any error leaves the shell
// unusable (the caller drops it).
func (sh *shell) run(ctx context.Context, script string, args []string) (Result, error) {
	var b strings.Builder
	b.Grow(len(script) + 256)
	b.WriteString("(")
	if len(args) > 0 {
		q := &Quoter{}
		b.WriteString("set -- " + q.Join(args))
		if q.Err != nil {
			return Result{}, q.Err
		}
	}
	b.WriteString("\n")
	b.WriteString(script)
	if !strings.HasSuffix(script, "\n") {
		b.WriteString("\n")
	}
	b.WriteString(") </dev/null\n")
	b.WriteString(sh.markers())
	if err := sh.c.await(ctx, "the script's input", func() error { return sh.write(b.String()) }); err != nil {
		if CategoryOf(err) != "" {
			return Result{}, err
		}
		return Result{}, sh.lost(err)
	}
	var res Result
	var gotOut, gotErr bool
	for !gotOut || !gotErr {
		select {
		case f, ok := <-sh.out.frames:
			if !ok {
				return Result{}, sh.lost(nil)
			}
			res.Stdout, res.ExitCode, res.Truncated = f.data, f.code, res.Truncated || f.cut
			gotOut = true
		case f, ok := <-sh.errOut.frames:
			if !ok {
				return Result{}, sh.lost(nil)
			}
			res.Stderr, res.Truncated = f.data, res.Truncated || f.cut
			gotErr = true
		case <-ctx.Done():
			return Result{}, sh.c.ctxErr(ctx, "run")
		}
	}
	return res, nil
}

// lost explains a shell that ended in the middle of a script.
func (sh *shell) lost(err error) error {
	select {
	case <-sh.ended:
	case <-time.After(shellExitWait):
	}
	select {
	case <-sh.c.lost:
		return sh.c.lostErr("run")
	default:
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	// A shell that exited with a status (a script that killed it, a shell
	// that gave up on a script) is the host's answer, not a lost
	// connection: it is not worth a retry.
	var ee *ssh.ExitError
	if errors.As(sh.endErr, &ee) {
		why := fmt.Sprintf("the host's shell ended before the script did (exit %d", ee.ExitStatus())
		if sig := ee.Signal(); sig != "" {
			why += ", signal " + sig
		}
		return &Error{Op: "run", Host: sh.c.name, Category: CatCommand, Err: fmt.Errorf("%s): %w", why, err)}
	}
	return &Error{Op: "run", Host: sh.c.name, Category: CatConnectionLost, Err: fmt.Errorf("the session ended before the script did: %w", err)}
}

// frame is one script's output on one stream.
type frame struct {
	data []byte
	code int
	cut  bool
}

// frameSink cuts a shell's output stream into frames at the marker lines.
// A frame keeps at most MaxOutput bytes; what is past that is dropped (the
// frame says so) while the marker is still looked for.
type frameSink struct {
	mu       sync.Mutex
	sep      []byte // "\n" + marker
	withCode bool   // stdout's marker line carries the exit code
	buf      []byte
	cut      bool
	skip     int // frames to drop (the start-up one)
	frames   chan frame
	closed   bool
}

func newFrameSink(marker string, withCode bool) *frameSink {
	return &frameSink{sep: []byte("\n" + marker), withCode: withCode, frames: make(chan frame, 4)}
}

// Write implements io.Writer for the session's stream.
func (f *frameSink) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	for {
		i := bytes.Index(f.buf, f.sep)
		if i < 0 {
			break
		}
		rest := f.buf[i+len(f.sep):]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return len(p), nil // the marker line is not whole yet
		}
		code := 0
		if f.withCode {
			c, err := strconv.Atoi(strings.TrimSpace(string(rest[:nl])))
			if err != nil {
				code = -1
			} else {
				code = c
			}
		}
		fr := frame{data: bytes.Clone(f.buf[:i]), code: code, cut: f.cut}
		f.buf = append(f.buf[:0:0], rest[nl+1:]...)
		f.cut = false
		if f.skip > 0 {
			f.skip--
			continue
		}
		if !f.closed {
			f.frames <- fr
		}
	}
	// Bound what is kept: the first MaxOutput bytes, and enough of the
	// end to hold a marker that is still arriving.
	if keep := len(f.sep) + 32; len(f.buf) > MaxOutput+keep {
		tail := f.buf[len(f.buf)-keep:]
		f.buf = append(f.buf[:MaxOutput], tail...)
		f.cut = true
	}
	return len(p), nil
}

// end closes the frames channel when the stream is over.
func (f *frameSink) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.frames)
	}
}
