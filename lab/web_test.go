package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// getInfo asks GET /api/v1/info on 127.0.0.1:port over plain TCP, as a real
// sshd's forward to that port would.
func getInfo(port int) (uid string, err error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + loopbackAddr(port) + "/api/v1/info")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var v struct {
		UID     string `json:"uid"`
		Claimed *bool  `json:"agent-claimed"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", err
	}
	if v.Claimed == nil {
		return "", fmt.Errorf("no agent-claimed key in %s", body)
	}
	return v.UID, nil
}

// refused reports whether a TCP connect to 127.0.0.1:port is refused:
// nothing listens there.
func refused(port int) bool {
	c, err := net.DialTimeout("tcp", loopbackAddr(port), 5*time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	c.Close()
	return false
}

// confWebPort is the [web] default port of a host's netdata.conf (0: none).
func confWebPort(t *testing.T, h HostInfo) int {
	t.Helper()
	conf := readINI(filepath.Join(h.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf"))
	p, _ := strconv.Atoi(conf["web.default port"])
	return p
}

// TestTCPWeb: with Options.TCPWeb every running agent answers its web API on
// the TCP port its netdata.conf names, for its own machine GUID; a host
// without an agent, a stopped agent and an agent with [web] mode = none
// refuse; the lab's own direct-tcpip reaches the same port; the ports close
// with the lab.
func TestTCPWeb(t *testing.T) {
	l, err := Start(context.Background(), Options{Dir: shortTempDir(t), Hosts: 4, Seed: "test",
		Personalities: "none=1,v2+agent-stopped=1,v1=1", Executable: testExe(t), Log: testLog{t}, TCPWeb: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	info := l.Info()
	var v2, v1, stopped, none HostInfo
	for _, h := range info.Hosts {
		switch {
		case h.Personality.Kind == KindNone:
			none = h
		case h.Personality.Has(FaultAgentStopped):
			stopped = h
		case h.Personality.Kind == KindV1:
			v1 = h
		default:
			v2 = h
		}
	}
	seen := map[int]bool{}
	for _, h := range info.Hosts {
		if h.WebPort == 0 || h.WebPort == agentWebPort || h.WebPort == h.Port || seen[h.WebPort] {
			t.Errorf("%s: web port %d (SSH port %d): want its own free port", h.Name, h.WebPort, h.Port)
		}
		seen[h.WebPort] = true
	}

	cases := []struct {
		name   string
		host   HostInfo
		answer bool
	}{
		{"v2 agent", v2, true},
		{"v1 agent", v1, true},
		{"stopped agent", stopped, false},
		{"no agent installed", none, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.host.Personality.Kind != KindNone {
				if p := confWebPort(t, tc.host); p != tc.host.WebPort {
					t.Fatalf("netdata.conf says port %d, lab.json %d", p, tc.host.WebPort)
				}
			}
			uid, err := getInfo(tc.host.WebPort)
			switch {
			case tc.answer && err != nil:
				t.Fatalf("/api/v1/info on port %d: %v", tc.host.WebPort, err)
			case tc.answer && uid != tc.host.MachineGUID:
				t.Fatalf("port %d answered for machine %s, want the host's own %s", tc.host.WebPort, uid, tc.host.MachineGUID)
			case !tc.answer && (err == nil || !refused(tc.host.WebPort)):
				t.Fatalf("port %d: machine %q, %v; want nothing listening", tc.host.WebPort, uid, err)
			}
		})
	}
	if n := l.Stats().WebConns; n < 2 {
		t.Errorf("stats: %d web connections, want at least the 2 answered", n)
	}

	// The lab's own SSH path: direct-tcpip to the port netdata.conf names.
	c := dial(t, info, v2.Name)
	conn, err := c.Dial("tcp", loopbackAddr(v2.WebPort))
	if err != nil {
		t.Fatalf("direct-tcpip to %d: %v", v2.WebPort, err)
	}
	conn.Close()

	// The port follows the agent: stop, start, [web] mode = none.
	initd := shellQuote(filepath.Join(v2.Prefix, "etc", "init.d", "netdata"))
	conf := shellQuote(filepath.Join(v2.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf"))
	steps := []struct {
		cmd    string
		answer bool
	}{
		{initd + " stop", false},
		{initd + " start", true},
		{initd + " restart", true},
		{`printf '[web]\n    mode = none\n' >> ` + conf + ` && ` + initd + " restart", false},
	}
	for _, s := range steps {
		if _, e, code := run(t, c, s.cmd, ""); code != 0 {
			t.Fatalf("%s: exit %d: %s", s.cmd, code, e)
		}
		uid, err := getInfo(v2.WebPort)
		switch {
		case s.answer && (err != nil || uid != v2.MachineGUID):
			t.Errorf("after %s: port %d: machine %q, %v; want %s", s.cmd, v2.WebPort, uid, err, v2.MachineGUID)
		case !s.answer && (err == nil || !refused(v2.WebPort)):
			t.Errorf("after %s: port %d: machine %q, %v; want nothing listening", s.cmd, v2.WebPort, uid, err)
		}
	}

	l.Close()
	if !refused(v1.WebPort) {
		t.Errorf("port %d still listens after the lab closed", v1.WebPort)
	}
}
