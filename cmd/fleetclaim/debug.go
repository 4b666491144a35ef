package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// debugLog is the --debug trace: per host, the connection steps, every
// command run (its text, never its stdin) and how long each took.
//
// Redaction is structural: secrets only ever exist as inventory.Secret
// values, which format as [REDACTED]; the trace is given commands (which
// never carry a secret: secrets travel on stdin) and sizes, never input.
// As a last line of defence every line is also scrubbed of the secret
// values this run resolved, so a future mistake prints [REDACTED] instead.
type debugLog struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	scrub []string
}

// newDebugLog returns nil (no tracing) unless enabled.
func newDebugLog(w io.Writer, secrets []inventory.Secret) *debugLog {
	d := &debugLog{w: w, start: time.Now()}
	for _, s := range secrets {
		if v := s.Reveal(); len(v) >= 4 {
			d.scrub = append(d.scrub, v)
		}
	}
	return d
}

// addSecret scrubs one more secret from the trace; it is called before
// any host is started.
func (d *debugLog) addSecret(s inventory.Secret) {
	if v := s.Reveal(); d != nil && len(v) >= 4 {
		d.scrub = append(d.scrub, v)
	}
}

func (d *debugLog) logf(host, format string, args ...any) {
	if d == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	for _, s := range d.scrub {
		line = strings.ReplaceAll(line, s, "[REDACTED]")
	}
	line = termText(line) // host output in errors: one line, no control
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "debug +%.3fs %s: %s\n", time.Since(d.start).Seconds(), host, line)
}

// debugConnector traces a Connector's connections and what runs on them.
type debugConnector struct {
	inner claim.Connector
	log   *debugLog
}

func (c debugConnector) Connect(ctx context.Context, h *inventory.Host) (claim.Conn, error) {
	t := claim.Target(h)
	via := ""
	for _, j := range t.Jump {
		via += fmt.Sprintf(" via %s@%s:%d", j.User, j.Address, j.Port)
	}
	c.log.logf(h.Name, "connect %s@%s:%d%s (connect timeout %s, host key policy %q, identity files %v)",
		t.Hop.User, t.Hop.Address, t.Hop.Port, via, t.ConnectTimeout, t.HostKeyPolicy, t.IdentityFiles)
	start := time.Now()
	conn, err := c.inner.Connect(ctx, h)
	if err != nil {
		c.log.logf(h.Name, "connect failed after %s: [%s] %v", since(start), remote.CategoryOf(err), err)
		return nil, err
	}
	c.log.logf(h.Name, "connected in %s", since(start))
	return &debugConn{Conn: conn, host: h.Name, log: c.log}, nil
}

// debugConn traces one connection's commands.
type debugConn struct {
	claim.Conn
	host string
	log  *debugLog
}

func (c *debugConn) Run(ctx context.Context, cmd string, stdin io.Reader) (remote.Result, error) {
	c.log.logf(c.host, "run %q%s", firstLine(cmd), stdinNote(stdin))
	start := time.Now()
	res, err := c.Conn.Run(ctx, cmd, stdin)
	c.traceEnd(start, res.ExitCode, len(res.Stdout), len(res.Stderr), err)
	return res, err
}

// RunScript keeps the connection a remote.ScriptRunner, so that --debug
// runs the same sessions as a run without it. The script itself is not
// traced (a claim script carries the token).
func (c *debugConn) RunScript(ctx context.Context, script string, args ...string) (remote.Result, error) {
	where := "in its own session"
	if _, ok := c.Conn.(remote.ScriptRunner); ok {
		where = "in the connection's shell"
	}
	c.log.logf(c.host, "script of %d lines %s, args %q", strings.Count(script, "\n")+1, where, args)
	start := time.Now()
	res, err := remote.RunScript(ctx, c.Conn, script, args...)
	c.traceEnd(start, res.ExitCode, len(res.Stdout), len(res.Stderr), err)
	return res, err
}

// Exec keeps the connection a remote.Streamer (sudo's prompt handling needs it).
func (c *debugConn) Exec(ctx context.Context, e remote.Exec) (int, error) {
	s, ok := c.Conn.(remote.Streamer)
	if !ok {
		return -1, errors.New("the connection cannot stream commands")
	}
	pty := ""
	if e.PTY {
		pty = " on a pty"
	}
	c.log.logf(c.host, "exec %q%s%s", firstLine(e.Cmd), pty, stdinNote(e.Stdin))
	start := time.Now()
	code, err := s.Exec(ctx, e)
	c.traceEnd(start, code, -1, -1, err)
	return code, err
}

func (c *debugConn) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	start := time.Now()
	conn, err := c.Conn.DialContext(ctx, network, addr)
	if err != nil {
		c.log.logf(c.host, "forward to %s failed after %s: %v", addr, since(start), err)
	} else {
		c.log.logf(c.host, "forward to %s opened in %s", addr, since(start))
	}
	return conn, err
}

func (c *debugConn) Close() error {
	c.log.logf(c.host, "close")
	return c.Conn.Close()
}

func (c *debugConn) traceEnd(start time.Time, code, outN, errN int, err error) {
	if err != nil {
		c.log.logf(c.host, "  failed after %s: [%s] %v", since(start), remote.CategoryOf(err), err)
		return
	}
	if outN < 0 {
		c.log.logf(c.host, "  exit %d in %s", code, since(start))
		return
	}
	c.log.logf(c.host, "  exit %d in %s (stdout %d bytes, stderr %d bytes)", code, since(start), outN, errN)
}

// firstLine is a command as traced: its first line, and how many follow.
func firstLine(cmd string) string {
	first, rest, more := strings.Cut(cmd, "\n")
	if more {
		return fmt.Sprintf("%s … (+%d lines)", first, strings.Count(rest, "\n")+1)
	}
	return first
}

func stdinNote(r io.Reader) string {
	if r == nil {
		return ""
	}
	return " (with input on stdin, not traced)"
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// openDebug opens the trace that --debug / --debug-file ask for.
func openDebug(enabled bool, file string, stderr io.Writer, secrets []inventory.Secret) (*debugLog, func(), error) {
	switch {
	case file != "":
		f, err := openDebugFile(file)
		if err != nil {
			return nil, func() {}, err
		}
		return newDebugLog(f, secrets), func() { f.Close() }, nil
	case enabled:
		return newDebugLog(stderr, secrets), func() {}, nil
	}
	return nil, func() {}, nil
}

// debugFileMode is the mode of the --debug-file trace: it names hosts,
// users and paths.
const debugFileMode = 0o600

// errSymlink is openNoFollow's answer for a symbolic link.
var errSymlink = errors.New("is a symbolic link")

// openDebugFile opens the --debug-file trace for appending. It never
// follows a symbolic link (whoever can write the directory could point it
// anywhere, and fleetclaim often runs as root); a new file is created
// debugFileMode; an existing regular file must be the user's own and is
// given debugFileMode before anything is written to it. Other files (a
// FIFO, /dev/null) are written as they are.
func openDebugFile(path string) (*os.File, error) {
	f, err := openNoFollow(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, debugFileMode)
	if errors.Is(err, errSymlink) {
		return nil, fmt.Errorf("%s is a symbolic link: refused (name the file itself)", path)
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return f, nil
	}
	if uid, ok := fileOwner(st); ok && uid != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("%s belongs to another user (uid %d): refused", path, uid)
	}
	if st.Mode().Perm() != debugFileMode {
		if err := f.Chmod(debugFileMode); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}
