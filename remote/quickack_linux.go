package remote

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAck makes the client acknowledge every TCP segment from the server at
// once, instead of after Linux's delayed-ACK timer (40 ms or more).
//
// OpenSSH's sshd leaves Nagle's algorithm on for sessions without a
// terminal, which is every session fleetclaim opens. When sshd sends two
// packets back to back (after authentication it sends the host keys and
// the answer to the session's channel open), the second one waits in sshd's
// kernel until the first is acknowledged; the client, with nothing of its
// own to send, delays that ACK. Each such exchange cost a host 40 ms of
// waiting and no work: on a real sshd the probe took 53 ms instead of 8.
//
// TCP_QUICKACK is not sticky (the kernel may fall back to delayed ACKs), so
// it is set again after every read that brought data: one setsockopt per
// read, a few per script.
func quickAck(c net.Conn) net.Conn {
	t, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := t.SyscallConn()
	if err != nil {
		return c
	}
	q := &quickAckConn{TCPConn: t, raw: rc}
	q.set = func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1) }
	q.raw.Control(q.set)
	return q
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
	set func(fd uintptr)
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	if n > 0 {
		_ = c.raw.Control(c.set)
	}
	return n, err
}
