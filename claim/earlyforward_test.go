package claim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// dialConnector hands the claimer a local runner whose forwards all reach
// one test server, counting them; the first one can be made dead on arrival
// (an agent that restarted while the claim ran).
type dialConnector struct {
	addr      string
	dials     atomic.Int32
	deadFirst bool
	mu        sync.Mutex
	conns     []net.Conn
}

func (d *dialConnector) Connect(context.Context, *inventory.Host) (Conn, error) {
	return remote.Local{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		n := d.dials.Add(1)
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", d.addr)
		if err != nil {
			return nil, err
		}
		if n == 1 && d.deadFirst {
			c.Close()
		}
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
		return c, nil
	}}, nil
}

// TestEarlyForward: the forward to the agent's API opened during the claim
// of a running agent is the one the state is then read through (one
// forward in all); a dead one is replaced; a failed claim closes it. An
// agent the probe did not see running (the claim starts it) gets no early
// forward: one forward, after the claim.
func TestEarlyForward(t *testing.T) {
	var requests atomic.Int32
	var open atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/api/v2/info":
			w.Write([]byte(`{"agents":[{"cloud":{"status":"online","claim_id":"11111111-2222-4333-8444-555555555551"}}]}`))
		case "/api/v1/info":
			w.Write([]byte(`{"cloud-enabled":true,"cloud-available":true,"agent-claimed":true,"aclk-available":true}`))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, c := range []struct {
		name      string
		token     string
		deadFirst bool
		stopped   bool
		wantDials int32
		wantOK    bool
	}{
		{"claimed", "good-token", false, false, 1, true},
		{"the early forward found dead", "good-token", true, false, 2, true},
		{"claim refused", "bad-token", false, false, 1, false},
		{"not seen running", "good-token", false, true, 1, true},
		{"not seen running, claim refused", "bad-token", false, true, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fakeInstall(t, currentUser(t))
			conf := "[global]\n    run as user = " + currentUser(t) + "\n[web]\n    default port = " + port + "\n"
			if err := os.WriteFile(filepath.Join(root, "opt/netdata/etc/netdata/netdata.conf"), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			if !c.stopped {
				runningAgent(t, filepath.Join(root, "opt/netdata/var/run/netdata/netdata.pid"))
			}
			d := &dialConnector{addr: srv.Listener.Addr().String(), deadFirst: c.deadFirst}
			requests.Store(0)
			cl := New(d, Options{Mode: ModeClaim, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf(c.token)})
			res := cl.Do(context.Background(), testHost(root, ""))
			if got := res.Status == StatusClaimed; got != c.wantOK {
				t.Fatalf("%+v", res)
			}
			if n := d.dials.Load(); n != c.wantDials {
				t.Errorf("%d forwards, want %d", n, c.wantDials)
			}
			if c.wantOK {
				if res.Troubleshooting == nil || res.Troubleshooting.Source != "api-v1" || requests.Load() != 2 {
					t.Errorf("state not read through the API: %+v, %d requests", res.Troubleshooting, requests.Load())
				}
				return
			}
			// Refused: the early forward is closed, nothing asked through it.
			if requests.Load() != 0 {
				t.Errorf("%d requests after a refused claim", requests.Load())
			}
			deadline := time.Now().Add(5 * time.Second)
			for open.Load() != 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if open.Load() != 0 {
				t.Errorf("%d forwards left open", open.Load())
			}
		})
	}
}

// TestEarlyForwardTake: the forward is handed out once; one nobody took is
// closed; a caller whose context ends stops waiting for it.
func TestEarlyForwardTake(t *testing.T) {
	var nilE *earlyForward
	if _, ok, _ := nilE.take(context.Background()); ok {
		t.Fatal("a nil early forward was taken")
	}
	nilE.close()

	a, b := net.Pipe()
	defer b.Close()
	e := &earlyForward{ready: make(chan struct{})}
	e.conn = a
	close(e.ready)
	if c, ok, err := e.take(context.Background()); !ok || err != nil || c != a {
		t.Fatalf("first take: %v %v %v", c, err, ok)
	}
	if _, ok, _ := e.take(context.Background()); ok {
		t.Fatal("taken twice")
	}

	c1, c2 := net.Pipe()
	e = &earlyForward{ready: make(chan struct{})}
	e.conn = c1
	close(e.ready)
	e.close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the untaken forward was not closed: %v", err)
	}

	e = &earlyForward{ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok, err := e.take(ctx); !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("take with an ended context: %v %v", err, ok)
	}
	close(e.ready)
}

// runningAgent writes pidFile for a process named netdata (a copy of cat,
// reading a pipe until the test ends): an agent the probe sees running.
func runningAgent(t *testing.T, pidFile string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netdata")
	b, err := os.ReadFile("/bin/cat")
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
