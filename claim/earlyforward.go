package claim

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/fleetclaim/fleetclaim/remote"
)

// earlyForward is the forward to the agent's web API, opened while the
// claim script runs: the first look at the agent's state after the claim
// then finds it open instead of waiting a round trip for it (on a fleet
// across a network, one round trip of the dozen a host costs).
type earlyForward struct {
	ready chan struct{}
	conn  net.Conn
	err   error

	mu    sync.Mutex
	taken bool
}

// openEarlyForward starts opening the forward to the agent's API on the
// host's loopback, through r.
func openEarlyForward(ctx context.Context, r remote.Runner, port int) *earlyForward {
	e := &earlyForward{ready: make(chan struct{})}
	go func() {
		defer close(e.ready)
		e.conn, e.err = r.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}()
	return e
}

// take hands out the forward once: ok is false when it was taken already
// (or e is nil), and the caller dials its own.
func (e *earlyForward) take(ctx context.Context) (c net.Conn, ok bool, err error) {
	if e == nil {
		return nil, false, nil
	}
	e.mu.Lock()
	if e.taken {
		e.mu.Unlock()
		return nil, false, nil
	}
	e.taken = true
	e.mu.Unlock()
	select {
	case <-e.ready:
		return e.conn, true, e.err
	case <-ctx.Done():
		go e.drop()
		return nil, true, ctx.Err()
	}
}

// close closes the forward if nobody took it, once it is open.
func (e *earlyForward) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	taken := e.taken
	e.taken = true
	e.mu.Unlock()
	if !taken {
		go e.drop()
	}
}

func (e *earlyForward) drop() {
	<-e.ready
	if e.conn != nil {
		e.conn.Close()
	}
}
