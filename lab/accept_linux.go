//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// acceptor serves every host's SSH port from ONE goroutine: the listening
// sockets are registered with one epoll instance, so an idle lab of 10,000
// hosts costs 10,000 file descriptors and no goroutine per host.
type acceptor struct {
	l     *Lab
	epfd  int
	wake  int // eventfd that stops the loop
	mu    sync.Mutex
	hosts map[int32]*host // by listening fd
	done  chan struct{}
	// started is set by start; close only waits for a loop that was started.
	started bool
	// reserved are the sockets holding the ports of hosts that refuse
	// connections: bound, never listening.
	reserved []int
}

func newAcceptor(l *Lab) (*acceptor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return &acceptor{l: l, epfd: epfd, wake: wake, hosts: map[int32]*host{}, done: make(chan struct{})}, nil
}

// listen opens 127.0.0.1:port (or any port when that one is taken or 0) for
// h and returns the port. With serve false the port is only reserved (see
// reserve), so connections to it are refused.
func (a *acceptor) listen(h *host, port int, serve bool) (int, error) {
	if !serve {
		return a.reserve(port)
	}
	fd, got, err := listenLoopback(port)
	if err != nil && port != 0 {
		fd, got, err = listenLoopback(0)
	}
	if err != nil {
		return 0, err
	}
	if !serve {
		unix.Close(fd)
		return got, nil
	}
	a.mu.Lock()
	a.hosts[int32(fd)] = h
	a.mu.Unlock()
	if err := unix.EpollCtl(a.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		return 0, fmt.Errorf("epoll: %w", err)
	}
	return got, nil
}

func listenLoopback(port int) (fd, got int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, int, error) {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("%s 127.0.0.1:%d: %w", what, port, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, 1024); err != nil {
		return fail("listen", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return fail("getsockname", errors.New("not an IPv4 address"))
	}
	return fd, in4.Port, nil
}

// start runs the accept loop in the background until close.
func (a *acceptor) start() {
	a.started = true
	go a.serve()
}

func (a *acceptor) serve() {
	defer close(a.done)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(a.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			a.l.logf("accept loop: %v", err)
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == a.wake {
				return
			}
			a.mu.Lock()
			h := a.hosts[ev.Fd]
			a.mu.Unlock()
			if h != nil {
				a.acceptAll(int(ev.Fd), h)
			}
		}
	}
}

// acceptAll takes every pending connection of one listening socket.
func (a *acceptor) acceptAll(lfd int, h *host) {
	for {
		nfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			return
		case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
			a.l.logf("accept on %s: %v (backing off)", h.name, err)
			time.Sleep(10 * time.Millisecond)
			return
		default:
			a.l.logf("accept on %s: %v", h.name, err)
			return
		}
		f := os.NewFile(uintptr(nfd), "tcp")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			a.l.logf("accept on %s: %v", h.name, err)
			continue
		}
		go h.serveConn(c)
	}
}

// close stops the loop and closes every listening socket.
func (a *acceptor) close() {
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(a.wake, one[:])
	if a.started {
		<-a.done
	}
	a.mu.Lock()
	for fd := range a.hosts {
		unix.Close(int(fd))
	}
	a.hosts = map[int32]*host{}
	for _, fd := range a.reserved {
		unix.Close(fd)
	}
	a.reserved = nil
	a.mu.Unlock()
	unix.Close(a.wake)
	unix.Close(a.epfd)
}

// reserve holds 127.0.0.1:port (any port when that one is taken or 0) for a
// host that refuses connections: the socket is bound but never listens, so
// a connection is refused (RST), and without SO_REUSEADDR no other socket,
// not another refusing host's nor a serving one's, can get the same port.
func (a *acceptor) reserve(port int) (int, error) {
	try := func(port int) (int, int, error) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, 0, fmt.Errorf("socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			unix.Close(fd)
			return -1, 0, fmt.Errorf("bind 127.0.0.1:%d: %w", port, err)
		}
		sa, err := unix.Getsockname(fd)
		in4, ok := sa.(*unix.SockaddrInet4)
		if err != nil || !ok {
			unix.Close(fd)
			return -1, 0, fmt.Errorf("getsockname: %v", err)
		}
		return fd, in4.Port, nil
	}
	fd, got, err := try(port)
	if err != nil && port != 0 {
		fd, got, err = try(0)
	}
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	a.reserved = append(a.reserved, fd)
	a.mu.Unlock()
	return got, nil
}
