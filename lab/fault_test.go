package lab

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestFaults checks each injected fault shows where a client would see it.
func TestFaults(t *testing.T) {
	faults := []Fault{FaultSSHRefuse, FaultSSHSilent, FaultSSHStall, FaultHostKeyChanged, FaultAuthReject,
		FaultCloud503, FaultCloud409, FaultCloud102, FaultOffline, FaultClaimHang, FaultSSHDrop}
	var spec []string
	for _, f := range faults {
		spec = append(spec, "v2+"+string(f)+"=1")
	}
	l := startLab(t, len(faults)+1, strings.Join(spec, ","))
	info := l.Info()
	token, _ := info.Token()
	hostWith := func(f Fault) HostInfo {
		for _, h := range info.Hosts {
			if h.Personality.Has(f) {
				return h
			}
		}
		t.Fatalf("no host with %s", f)
		return HostInfo{}
	}
	dialFails := []struct {
		fault Fault
		want  string
	}{
		{FaultSSHRefuse, "connection refused"},
		{FaultSSHSilent, "timeout"},
		{FaultSSHStall, "timeout"},
		{FaultHostKeyChanged, "key mismatch"},
		{FaultAuthReject, "unable to authenticate"},
	}
	for _, tc := range dialFails {
		t.Run(string(tc.fault), func(t *testing.T) {
			t.Parallel()
			h := hostWith(tc.fault)
			_, err := dialTimeout(info, h.Name, time.Second)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
				t.Fatalf("dial: %v, want %q", err, tc.want)
			}
		})
	}
	claimMsgs := []struct {
		fault Fault
		want  string
	}{
		{FaultCloud503, "is not claimed to Netdata Cloud: Failed: Netdata Cloud is unavailable"},
		{FaultCloud409, "is not claimed to Netdata Cloud: Failed: agent is already claimed"},
		{FaultCloud102, "is not claimed to Netdata Cloud: Claiming is in progress"},
		{FaultOffline, "is claimed to Netdata Cloud, but it is currently offline: "},
	}
	for _, tc := range claimMsgs {
		t.Run(string(tc.fault), func(t *testing.T) {
			t.Parallel()
			h := hostWith(tc.fault)
			c := dial(t, info, h.Name)
			writeClaimConf(t, c, h.Prefix, info.CloudURL, token, "", "    insecure = yes\n")
			out, _, code := run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", "")
			if code != 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("%d %q, want %q", code, out, tc.want)
			}
		})
	}
	t.Run("claim-hang", func(t *testing.T) {
		t.Parallel()
		h := hostWith(FaultClaimHang)
		c := dial(t, info, h.Name)
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s.Stdout = &out
		if err := s.Start("opt/netdata/bin/netdatacli reload-claiming-state"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("reload-claiming-state returned: %v %q", err, out.String())
		case <-time.After(500 * time.Millisecond):
		}
		s.Close()
	})
	t.Run("ssh-drop", func(t *testing.T) {
		t.Parallel()
		h := hostWith(FaultSSHDrop)
		c := dial(t, info, h.Name)
		writeClaimConf(t, c, h.Prefix, info.CloudURL, token, "", "    insecure = yes\n")
		s, _ := c.NewSession()
		_, err := s.Output("opt/netdata/bin/netdatacli reload-claiming-state")
		if err == nil {
			t.Fatal("claim session ended cleanly on a dropping host")
		}
		claims, _ := info.Claims(context.Background())
		found := false
		for _, cl := range claims {
			found = found || cl.MGUID == h.MachineGUID
		}
		if !found {
			t.Fatal("the claim behind the dropped connection did not reach the lab Cloud")
		}
	})
}

func dialTimeout(info *Info, name string, d time.Duration) (net.Conn, error) {
	type result struct {
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := dialErr(info, name)
		if c != nil {
			c.Close()
		}
		ch <- result{err}
	}()
	select {
	case r := <-ch:
		return nil, r.err
	case <-time.After(d):
		return nil, &net.OpError{Op: "dial", Err: errTimeout{}}
	}
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

// TestWebPortFromConfig: the agent API answers on the port netdata.conf
// names when the agent starts, and not at all with [web] mode = none.
func TestWebPortFromConfig(t *testing.T) {
	l := startLab(t, 1, "")
	info := l.Info()
	c := dial(t, info, "lab-001")
	if _, e, code := run(t, c, `sed -i 's/default port = 19999/default port = 20000/' opt/netdata/etc/netdata/netdata.conf && etc/init.d/netdata restart`, ""); code != 0 {
		t.Fatal(e)
	}
	if _, err := c.Dial("tcp", "127.0.0.1:19999"); err == nil {
		t.Error("old port still served")
	}
	conn, err := c.Dial("tcp", "localhost:20000")
	if err != nil {
		t.Fatalf("new port: %v", err)
	}
	conn.Close()
	if _, e, code := run(t, c, `printf '[web]\n    mode = none\n' >> opt/netdata/etc/netdata/netdata.conf && etc/init.d/netdata restart`, ""); code != 0 {
		t.Fatal(e)
	}
	if _, err := c.Dial("tcp", "localhost:20000"); err == nil {
		t.Error("API served with [web] mode = none")
	}
}
