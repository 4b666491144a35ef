package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// delayProxyMain is `fleetbench delay-proxy ONE-WAY TARGET...`: a delaying
// proxy in front of each target, whose port it prints, one per line, in the
// targets' order; it runs until it is ended.
func delayProxyMain(ctx context.Context, args []string) int {
	if len(args) < 2 {
		return fatalf("usage: fleetbench delay-proxy ONE-WAY-DELAY HOST:PORT...")
	}
	oneWay, err := time.ParseDuration(args[0])
	if err != nil || oneWay < 0 {
		return fatalf("delay-proxy: delay %q: %v", args[0], err)
	}
	for _, target := range args[1:] {
		port, err := startDelayProxy(ctx, target, oneWay)
		if err != nil {
			return fatalf("delay-proxy: %v", err)
		}
		fmt.Println(port)
	}
	<-ctx.Done()
	return 0
}

// startDelayProxy listens on a free port of 127.0.0.1 and forwards every
// connection to target, delaying each direction by oneWay: a network with
// a round-trip time of twice that. Bytes keep their order and are not
// held back by size, so what a tool sends in one burst arrives in one
// burst, oneWay later; each connection ends when both directions have.
// It stops accepting when ctx ends.
func startDelayProxy(ctx context.Context, target string, oneWay time.Duration) (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	context.AfterFunc(ctx, func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				up, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				done := make(chan struct{}, 2)
				go delayCopy(up.(*net.TCPConn), c.(*net.TCPConn), oneWay, done)
				go delayCopy(c.(*net.TCPConn), up.(*net.TCPConn), oneWay, done)
				<-done
				<-done
				c.Close()
				up.Close()
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// delayCopy copies src to dst, each chunk oneWay after it was read. The
// proxy acknowledges what it reads at once (TCP_QUICKACK), as the far end
// of a real link would not add its own delayed-ACK waits to the delay.
func delayCopy(dst, src *net.TCPConn, oneWay time.Duration, done chan<- struct{}) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 4096)
	go func() {
		for ch := range q {
			time.Sleep(time.Until(ch.at))
			if _, err := dst.Write(ch.b); err != nil {
				break
			}
		}
		for range q {
		}
		dst.CloseWrite()
		done <- struct{}{}
	}()
	raw, _ := src.SyscallConn()
	quick := func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1) }
	for {
		b := make([]byte, 32<<10)
		n, err := src.Read(b)
		if n > 0 {
			_ = raw.Control(quick)
			q <- chunk{b[:n], time.Now().Add(oneWay)}
		}
		if err != nil {
			close(q)
			return
		}
	}
}
