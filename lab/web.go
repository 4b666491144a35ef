package lab

import (
	"net"
	"strconv"
	"sync"
)

// hostWeb is the TCP port a host's agent serves its web API on besides the
// lab's in-memory forwards (Options.TCPWeb): what a real sshd in front of the
// host reaches when a client forwards to the port netdata.conf names. The
// port is picked once per lab process and is open exactly while the agent
// runs with that port as its web port.
type hostWeb struct {
	h    *host
	port int // 0: the lab runs without TCPWeb

	mu     sync.Mutex
	ln     net.Listener // open while the agent serves on port
	served bool         // ln is handed to the lab's agent API server
}

func loopbackAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// pick chooses the port: prev (the previous run's) when it is free, else
// any free one. The listener stays open until sync decides.
func (w *hostWeb) pick(prev int) error {
	var ln net.Listener
	if prev > 0 {
		if l, err := net.Listen("tcp", loopbackAddr(prev)); err == nil {
			ln = l
		}
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", loopbackAddr(0)); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.ln, w.port = ln, ln.Addr().(*net.TCPAddr).Port
	w.mu.Unlock()
	return nil
}

// sync opens or closes the port to match the agent: open while the agent is
// installed and running with this port as its web port, closed (connections
// refused) when it is stopped, turns its web server off ([web] mode = none)
// or moves to another port. Every change of the agent's running state or web
// port is followed by a sync, so the last one leaves the port right.
func (w *hostWeb) sync() {
	if w.port == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	l, a := w.h.lab, w.h.agent
	if !a.installed.Load() || a.apiPort() != w.port || l.isClosed() {
		w.closeLocked()
		return
	}
	if w.ln == nil {
		ln, err := net.Listen("tcp", loopbackAddr(w.port))
		if err != nil {
			l.logf("host %s: agent web port %d: %v", w.h.name, w.port, err)
			return
		}
		w.ln = ln
	}
	if w.served {
		return
	}
	// Under connMu, so Close cannot start waiting for the lab's goroutines
	// between the check and the new one; after Close, close() ends ln.
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.closed || l.apiSrv == nil {
		return
	}
	w.served = true
	ln := &webListener{Listener: w.ln, h: w.h}
	l.goRun(func() { _ = l.apiSrv.Serve(ln) })
}

// close ends the port for good (the lab stops).
func (w *hostWeb) close() {
	w.mu.Lock()
	w.closeLocked()
	w.mu.Unlock()
}

func (w *hostWeb) closeLocked() {
	if w.ln != nil {
		_ = w.ln.Close()
		w.ln, w.served = nil, false
	}
}

func (l *Lab) isClosed() bool {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	return l.closed
}

// webListener tags the connections to a host's own web port with the host
// and counts them.
type webListener struct {
	net.Listener
	h *host
}

func (l *webListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.h.lab.stats.webConns.Add(1)
	return &webConn{Conn: c, host: l.h}, nil
}

// webConn is a TCP connection to a host's own web port.
type webConn struct {
	net.Conn
	host *host
}
