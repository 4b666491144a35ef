package remote

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// stallAt is where a stalling server stops answering, after a complete
// handshake and with keepalives still answered: what a host whose sshd is
// alive but whose sessions hang looks like (a PAM session module waiting on
// a dead directory server, a host out of processes, a wedged filesystem).
type stallAt string

const (
	stallOpen   stallAt = "channel open" // session channel opens are never answered
	stallExec   stallAt = "exec"         // exec requests are never answered
	stallPTY    stallAt = "pty"          // pty-req is never answered
	stallSFTP   stallAt = "sftp"         // the sftp subsystem request is never answered
	stallScript stallAt = "script"       // exec and shell succeed; the command never ends
)

// stallServer returns a connection handler that stalls at where, telling
// reached each time a request it will not answer (or a command that will
// not end) arrives.
func stallServer(where stallAt, reached chan<- stallAt) func(net.Conn, *ssh.ServerConfig) {
	return func(nc net.Conn, cfg *ssh.ServerConfig) {
		sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
		if err != nil {
			nc.Close()
			return
		}
		defer sc.Close()
		go func() {
			for r := range reqs {
				if r.WantReply {
					r.Reply(r.Type == "keepalive@openssh.com", nil)
				}
			}
		}()
		var pending []ssh.NewChannel // held, never answered
		for nch := range chans {
			if where == stallOpen {
				pending = append(pending, nch)
				reached <- where
				continue
			}
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			go serveStalling(where, ch, creqs, reached)
		}
		_ = pending
	}
}

// serveStalling answers one session's requests, except the one it stalls
// at; a command that starts never ends.
func serveStalling(where stallAt, ch ssh.Channel, reqs <-chan *ssh.Request, reached chan<- stallAt) {
	defer ch.Close()
	for r := range reqs {
		stall := r.Type == "exec" && where == stallExec ||
			r.Type == "pty-req" && where == stallPTY ||
			r.Type == "subsystem" && where == stallSFTP
		if stall {
			reached <- where
			continue
		}
		if r.WantReply {
			r.Reply(true, nil)
		}
		if r.Type == "exec" && where == stallScript {
			reached <- where
		}
	}
}

// stalledClient dials an in-process server that stalls at where; reached
// hears of each stall.
func stalledClient(t *testing.T, where stallAt) (c *Client, reached <-chan stallAt) {
	t.Helper()
	ch := make(chan stallAt, 16)
	addr, key, kh := inProcessServerWith(t, stallServer(where, ch))
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	d := NewDialer(DialerOptions{})
	t.Cleanup(func() { d.Close() })
	tg := Target{Name: "stalled", Hop: Hop{User: "u", Address: host, Port: p}, IdentityFiles: []string{key}, KnownHosts: []string{kh},
		ConnectTimeout: 10 * time.Second, KeepaliveInterval: time.Second}
	c, err := d.Dial(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ch
}

// hangBound is how long an operation whose context has ended may take to
// return before the test calls it hung. It is not a timing assertion: a
// working operation returns at once, a broken one never does.
const hangBound = 30 * time.Second

// TestStalledHostEndsWithContext: every wait on a host that completed its
// handshake and still answers keepalives (a session channel, an exec's
// reply, a pty, the sftp subsystem, a script that never ends) ends when its
// context does, with the timeout category.
func TestStalledHostEndsWithContext(t *testing.T) {
	ops := map[stallAt]func(ctx context.Context, c *Client) error{
		stallOpen: func(ctx context.Context, c *Client) error {
			_, err := c.Run(ctx, "true", nil)
			return err
		},
		stallExec: func(ctx context.Context, c *Client) error {
			_, err := c.Run(ctx, "true", nil)
			return err
		},
		stallPTY: func(ctx context.Context, c *Client) error {
			_, err := c.RunPTY(ctx, "true", nil)
			return err
		},
		stallSFTP: func(ctx context.Context, c *Client) error {
			return c.putSFTP(ctx, "/tmp/never", []byte("content"))
		},
		stallScript: func(ctx context.Context, c *Client) error {
			_, err := c.RunScript(ctx, "sleep 1000")
			return err
		},
	}
	for where, op := range ops {
		t.Run(string(where), func(t *testing.T) {
			t.Parallel()
			c, reached := stalledClient(t, where)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- op(ctx, c) }()
			select {
			case <-reached:
			case err := <-done:
				t.Fatalf("ended (%v) before the server saw the %s it stalls at: the test proves nothing", err, where)
			case <-time.After(hangBound):
				t.Fatalf("the server never saw the %s it stalls at", where)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("no error from a stalled host")
				}
				if cat := CategoryOf(err); cat != CatTimeout {
					t.Errorf("category %q (%v), want %q", cat, err, CatTimeout)
				}
			case <-time.After(hangBound):
				t.Fatalf("still waiting on the stalled %s %v after its context ended", where, hangBound)
			}
		})
	}
}

// TestStalledHostCanceled: a canceled (not expired) context ends the wait
// too, as canceled.
func TestStalledHostCanceled(t *testing.T) {
	c, reached := stalledClient(t, stallOpen)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "true", nil)
		done <- err
	}()
	select {
	case <-reached:
	case <-time.After(hangBound):
		t.Fatal("the server never saw the channel open")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || CategoryOf(err) != CatCanceled {
			t.Errorf("error %v (category %q), want canceled", err, CategoryOf(err))
		}
	case <-time.After(hangBound):
		t.Fatal("a canceled wait for a session channel did not end")
	}
}

// lateServer holds every session channel open until release is closed,
// telling held of each; then it accepts them, and every later one at
// once, and runs each exec at once with exit status 0: a host that is slow,
// not stalled.
func lateServer(held chan<- struct{}, release <-chan struct{}) func(net.Conn, *ssh.ServerConfig) {
	return func(nc net.Conn, cfg *ssh.ServerConfig) {
		sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
		if err != nil {
			nc.Close()
			return
		}
		defer sc.Close()
		go ssh.DiscardRequests(reqs)
		for nch := range chans {
			select {
			case <-release:
			default:
				held <- struct{}{}
				<-release
			}
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			go func() {
				for r := range creqs {
					r.Reply(r.Type == "exec", nil)
					if r.Type == "exec" {
						ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
						ch.Close()
					}
				}
			}()
		}
	}
}

// TestSlowHostKeepsItsConnection: a host that answers a wait soon after its
// context ended (within stallGrace) keeps its connection, so that the
// commands cleaning up after a canceled claim still run on it.
func TestSlowHostKeepsItsConnection(t *testing.T) {
	held, release := make(chan struct{}, 4), make(chan struct{})
	addr, key, kh := inProcessServerWith(t, lateServer(held, release))
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	d := NewDialer(DialerOptions{})
	defer d.Close()
	c, err := d.Dial(context.Background(), Target{Name: "slow", Hop: Hop{User: "u", Address: host, Port: p},
		IdentityFiles: []string{key}, KnownHosts: []string{kh}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "true", nil)
		done <- err
	}()
	select {
	case <-held:
	case <-time.After(hangBound):
		t.Fatal("the server never saw the channel open")
	}
	cancel()
	select {
	case err := <-done:
		if CategoryOf(err) != CatCanceled {
			t.Fatalf("%v (category %q), want canceled", err, CategoryOf(err))
		}
	case <-time.After(hangBound):
		t.Fatal("the canceled wait did not end")
	}
	close(release) // the host answers, late
	cctx, ccancel := context.WithTimeout(context.Background(), hangBound)
	defer ccancel()
	res, err := c.Run(cctx, "true", nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("the slow host's connection after a canceled wait: %v, exit %d", err, res.ExitCode)
	}
}

// TestStalledHostLosesItsConnection: a host that has not answered a wait
// stallGrace after its context ended has its connection closed: the
// operations after it (a claim's clean-up) fail at once as
// connection-lost instead of waiting on the stalled host in their turn.
func TestStalledHostLosesItsConnection(t *testing.T) {
	c, reached := stalledClient(t, stallOpen)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-reached
		cancel()
	}()
	if _, err := c.Run(ctx, "true", nil); CategoryOf(err) != CatCanceled {
		t.Fatalf("%v (category %q), want canceled", err, CategoryOf(err))
	}
	select {
	case <-c.lost:
	case <-time.After(hangBound):
		t.Fatalf("the stalled host's connection is still open %v after its wait ended", hangBound)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), hangBound)
	defer ccancel()
	if _, err := c.Run(cctx, "true", nil); CategoryOf(err) != CatConnectionLost {
		t.Fatalf("after the stall: %v (category %q), want connection-lost", err, CategoryOf(err))
	}
}
