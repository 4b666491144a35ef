package claim

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// recordingConn runs commands on this machine and records each command line
// and what it was given on stdin.
type recordingConn struct {
	mu           sync.Mutex
	cmds, stdins []string
}

func (c *recordingConn) Run(ctx context.Context, cmd string, stdin io.Reader) (remote.Result, error) {
	in := ""
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return remote.Result{}, err
		}
		in = string(b)
	}
	c.mu.Lock()
	c.cmds, c.stdins = append(c.cmds, cmd), append(c.stdins, in)
	c.mu.Unlock()
	return remote.Local{}.Run(ctx, cmd, strings.NewReader(in))
}

func (c *recordingConn) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return remote.Local{}.DialContext(ctx, network, addr)
}

func (c *recordingConn) Close() error { return nil }

type recordingConnector struct{ conn *recordingConn }

func (r recordingConnector) Connect(context.Context, *inventory.Host) (Conn, error) {
	return r.conn, nil
}

// TestTokenNeverOnACommandLine: whatever the method and mode, the claim
// token reaches the host on stdin (in a script's here-document), never in a
// command line, which every user of the host can read in the process list.
func TestTokenNeverOnACommandLine(t *testing.T) {
	me := currentUser(t)
	const token = "good-token" // the fake v2 agent claims with it
	cases := []struct {
		name   string
		root   func() string
		opts   Options
		method string
	}{
		{"claim.conf", func() string { return fakeInstall(t, me) }, Options{}, MethodClaimConf},
		{"netdata-claim.sh", func() string { return fakeV1Install(t, me, 0, "Node was successfully claimed.") }, Options{}, MethodClaimScript},
		{"reclaim claim.conf", func() string { return fakeInstall(t, me) }, Options{Mode: ModeReclaim, NewIdentity: true}, MethodClaimConf},
		{"reclaim netdata-claim.sh", func() string { return fakeV1Install(t, me, 0, "Node was successfully claimed.") }, Options{Mode: ModeReclaim}, MethodClaimScript},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := &recordingConn{}
			opts := tc.opts
			opts.Token, opts.Wait, opts.PollInterval = tokenOf(token), 2*time.Second, 10*time.Millisecond
			root := tc.root()
			res := New(recordingConnector{conn}, opts).Do(context.Background(), testHost(root, ""))
			if !res.Status.OK() || res.Method != tc.method {
				t.Fatalf("%+v", res)
			}
			sent := false
			for i, cmd := range conn.cmds {
				if strings.Contains(cmd, token) {
					t.Errorf("the token is on command line %d: %q", i, cmd)
				}
				sent = sent || strings.Contains(conn.stdins[i], token)
			}
			if !sent {
				t.Fatalf("the token was sent in no command's stdin: commands %q", conn.cmds)
			}
			if tc.method == MethodClaimScript { // the fake script records its arguments
				args, err := os.ReadFile(filepath.Join(root, "opt/netdata/args"))
				if err != nil || strings.Contains(string(args), token) {
					t.Errorf("netdata-claim.sh's arguments: %q (%v)", args, err)
				}
			}
		})
	}
}
