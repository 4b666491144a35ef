package remote

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// BenchmarkHostParts (go test ./remote -run '^$' -bench HostParts
// -benchtime 200x) reports the client CPU per host (cpu-ms/host: the test
// process's user+sys over its hosts) of the parts of a host's run against
// a real sshd, 25 hosts at a time: the connection alone, then one exec
// (of a floor-sized script, of true, of sleep 1: is the CPU the session's
// or its wall's?), the probe in the connection's shell, a claim-sized
// script after it, and a forward with one HTTP-sized request and answer.
func BenchmarkHostParts(b *testing.B) {
	e := sshdtest.New(b)
	s := e.Start(b, sshdtest.Options{Name: "cpu", MaxStartups: "100:30:200"})
	kh := e.WriteKnownHosts(b, false, s.KnownHostsLine(b, "ed25519"))
	tg := Target{Name: "cpu", Hop: Hop{User: "root", Address: s.Host, Port: s.Port}, IdentityFiles: []string{e.Key}, KnownHosts: []string{kh}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 4096)
				c.Read(b)
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("x", 4000)))
				c.Close()
			}()
		}
	}()
	floorScript := strings.Repeat("# a floor-sized script line of some sixty bytes or so....\n", 36) + "true\n"
	claimScript := strings.Repeat(": a claim-sized script line of some sixty bytes or so......\n", 95) + "true\n"
	ctx := context.Background()
	steps := []struct {
		name string
		f    func(c *Client)
	}{
		{"connect", func(c *Client) {}},
		{"connect + exec of a 2 KB script (the floor)", func(c *Client) {
			if _, err := c.Run(ctx, "exec sh -s", strings.NewReader(floorScript)); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect + exec of sleep 1", func(c *Client) {
			if _, err := c.Run(ctx, "sleep 1", nil); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect + exec of true", func(c *Client) {
			if _, err := c.Run(ctx, "true", nil); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect + exec of the probe", func(c *Client) {
			if _, err := c.Run(ctx, "exec sh -s -- '' '' ''", strings.NewReader(probeScript)); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect + true in the shell", func(c *Client) {
			if _, err := c.RunScript(ctx, "true"); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect + probe in the shell", func(c *Client) {
			if _, err := c.RunScript(ctx, probeScript, "", "", ""); err != nil {
				b.Fatal(err)
			}
		}},
		{"connect + probe + 6 KB script", func(c *Client) {
			c.RunScript(ctx, probeScript, "", "", "")
			c.RunScript(ctx, claimScript)
		}},
		{"connect + probe + 6 KB script + forward", func(c *Client) {
			c.RunScript(ctx, probeScript, "", "", "")
			c.RunScript(ctx, claimScript)
			fc, err := c.DialContext(ctx, "tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			fc.Write([]byte("GET /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n"))
			b := make([]byte, 8192)
			for {
				if _, err := fc.Read(b); err != nil {
					break
				}
			}
			fc.Close()
		}},
	}
	for _, st := range steps {
		b.Run(st.name, func(b *testing.B) {
			d := NewDialer(DialerOptions{})
			defer d.Close()
			c, err := d.Dial(ctx, tg) // warm: keys parsed, known_hosts loaded
			if err != nil {
				b.Fatal(err)
			}
			st.f(c)
			c.Close()
			work := make(chan struct{}, b.N)
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			b.ResetTimer()
			cpu0 := cpuSelf()
			var wg sync.WaitGroup
			for range hostPartsForks {
				wg.Go(func() {
					for range work {
						c, err := d.Dial(ctx, tg)
						if err != nil {
							b.Error(err)
							return
						}
						st.f(c)
						c.Close()
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64((cpuSelf()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/host")
		})
	}
}

// hostPartsForks is how many hosts BenchmarkHostParts runs at once.
const hostPartsForks = 25
