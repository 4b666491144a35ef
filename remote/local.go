package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
)

// Local runs commands on this machine with /bin/sh, like an SSH host that
// is the machine itself (Ansible's "connection: local"). Dial, if set,
// replaces the network dialer (tests point it at a local server).
type Local struct {
	Dir  string
	Env  []string
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Run implements Runner.
func (l Local) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Dir = l.Dir
	if l.Env != nil {
		c.Env = l.Env
	}
	var out, errb limitedBuffer
	out.max, errb.max = MaxOutput, MaxOutput
	c.Stdout, c.Stderr, c.Stdin = &out, &errb, stdin
	err := c.Run()
	res := Result{Stdout: out.b, Stderr: errb.b, Truncated: out.cut || errb.cut}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		cat := CatCanceled
		if ctx.Err() == context.DeadlineExceeded {
			cat = CatTimeout
		}
		return res, &Error{Op: "run", Host: "local", Category: cat, Err: ctx.Err()}
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		if res.ExitCode < 0 {
			res.ExitCode = 128
		}
	default:
		return res, &Error{Op: "run", Host: "local", Category: CatCommand, Err: err}
	}
	return res, nil
}

// ErrNoPTY is the error of a Streamer that cannot run a command on a
// pseudo-terminal.
var ErrNoPTY = errors.New("a pseudo-terminal is not supported on this runner")

// Exec implements Streamer; PTY is not supported (ErrNoPTY).
func (l Local) Exec(ctx context.Context, e Exec) (int, error) {
	if e.PTY {
		return 0, &Error{Op: "run", Host: "local", Category: CatCommand, Err: ErrNoPTY}
	}
	c := exec.CommandContext(ctx, "/bin/sh", "-c", e.Cmd)
	c.Dir = l.Dir
	if l.Env != nil {
		c.Env = l.Env
	}
	c.Stdout, c.Stderr = e.Stdout, e.Stderr
	err := runFeeding(c, e.Stdin)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		cat := CatCanceled
		if ctx.Err() == context.DeadlineExceeded {
			cat = CatTimeout
		}
		return 0, &Error{Op: "run", Host: "local", Category: cat, Err: ctx.Err()}
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 {
			return 128, nil
		}
		return ee.ExitCode(), nil
	}
	return 0, &Error{Op: "run", Host: "local", Category: CatCommand, Err: err}
}

// runFeeding runs c with in copied to its stdin. Unlike exec.Cmd's own
// copy, which Wait waits for, the copy ends with the command: a reader
// that gives nothing until the command has said something (Privileged's
// feeder, which never sends the input of a command sudo refused to start)
// does not hold the run open.
func runFeeding(c *exec.Cmd, in io.Reader) error {
	if in == nil {
		return c.Run()
	}
	w, err := c.StdinPipe()
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	go func() {
		io.Copy(w, in)
		w.Close()
	}()
	return c.Wait()
}

// DialContext implements Runner.
func (l Local) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if l.Dial != nil {
		return l.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Close does nothing; it lets Local stand for a connection.
func (Local) Close() error { return nil }
