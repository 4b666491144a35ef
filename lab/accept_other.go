//go:build !linux

package lab

import (
	"fmt"
	"net"
	"sync"
)

// acceptor is the portable fallback: one listener and one accept goroutine
// per host.
type acceptor struct {
	l   *Lab
	mu  sync.Mutex
	lns map[net.Listener]*host
	wg  sync.WaitGroup
}

func newAcceptor(l *Lab) (*acceptor, error) {
	return &acceptor{l: l, lns: map[net.Listener]*host{}}, nil
}

func (a *acceptor) listen(h *host, port int, serve bool) (int, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil && port != 0 {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return 0, err
	}
	got := ln.Addr().(*net.TCPAddr).Port
	if !serve {
		ln.Close()
		return got, nil
	}
	a.mu.Lock()
	a.lns[ln] = h
	a.mu.Unlock()
	return got, nil
}

// start runs one accept goroutine per listener until close.
func (a *acceptor) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ln, h := range a.lns {
		a.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go h.serveConn(c)
			}
		})
	}
}

func (a *acceptor) close() {
	a.mu.Lock()
	for ln := range a.lns {
		ln.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}
