package claim

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// TestPrivilegeOnLoginFacts: privilege() decides on the login user's facts,
// never on those of the user the probe ran as. Pure: no host, no root.
func TestPrivilegeOnLoginFacts(t *testing.T) {
	conn := &remote.Local{}
	sudo := remote.Privileged(conn, remote.Become{Method: "sudo"}, "")
	refused := &remote.Error{Op: "become", Category: remote.CatNoPrivilege, Err: errString("Sorry, user ops may not run sudo on h.")}
	in := &remote.Install{RunAsUser: "netdata"}
	opsViaSudo := &remote.ProbeFacts{User: "ops", UID: 1001, ProbeUser: "root", ProbeUID: 0, ProbeVia: "sudo"}
	ops := &remote.ProbeFacts{User: "ops", UID: 1001, ProbeUser: "ops", ProbeUID: 1001}
	root := &remote.ProbeFacts{User: "root", UID: 0, ProbeUser: "root", ProbeUID: 0}
	agentUser := &remote.ProbeFacts{User: "netdata", UID: 998, ProbeUser: "netdata", ProbeUID: 998}
	cases := []struct {
		name       string
		f          *remote.ProbeFacts
		become     remote.Runner
		becomeErr  error
		becomeUser string
		want       Category // "conn", "sudo" or an error category
	}{
		{"probe ran as root through sudo", opsViaSudo, sudo, nil, "", "sudo"},
		{"root login, no become", root, nil, nil, "", "conn"},
		{"root login, become works", root, sudo, nil, "", "sudo"},
		{"run-as login, no become", agentUser, nil, nil, "", "conn"},
		{"ordinary login, no become", ops, nil, nil, "", CatNoPrivilege},
		{"sudo refused", ops, sudo, refused, "", CatNoPrivilege},
		{"sudo password refused", ops, sudo, &remote.Error{Category: remote.CatSudoPassword, Err: errString("x")}, "", remote.CatSudoPassword},
		{"sudo refused, but run-as login", agentUser, sudo, refused, "", "conn"},
		{"become_user the run-as user", opsViaSudo, sudo, nil, "netdata", "sudo"},
		{"become_user another user", opsViaSudo, sudo, nil, "www-data", CatNoPrivilege},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &hostRun{h: &inventory.Host{User: tc.f.User, Become: "sudo", BecomeUser: tc.becomeUser}, res: &Result{},
				conn: conn, facts: tc.f, become: tc.become, becomeErr: tc.becomeErr}
			run, err := r.privilege(in)
			got := Category("conn")
			switch {
			case err != nil:
				got = CategoryOf(err)
			case run == sudo:
				got = "sudo"
			case run != remote.Runner(conn):
				got = "another runner"
			}
			if got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
			if err != nil && tc.becomeErr != nil && !strings.Contains(err.Error(), tc.becomeErr.Error()) {
				t.Fatalf("the error %q lost sudo's words %q", err, tc.becomeErr)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestNoPrivilegeWithoutRoot runs the whole claim of a host whose login
// user can gain no privilege, on a fake connection that answers the probe
// as such a host would: no root needed, no skip.
func TestNoPrivilegeWithoutRoot(t *testing.T) {
	fake := &probeOnly{out: "fleetclaim-probe=1\nuid=1001\nuser=ops\nprobe_uid=1001\nprobe_user=ops\nkernel=Linux\ninit=systemd\n" +
		"install=native\ni.confdir=/etc/netdata\ni.binary=/usr/sbin/netdata\ni.cli=/usr/sbin/netdatacli\ni.claim_script=/usr/sbin/netdata-claim.sh\ni.claim_v2=1\n" +
		"i.itype=INSTALL_TYPE='binpkg-deb'\ni.conf=[global]\ni.conf=    run as user = netdata\ni.varlib=/var/lib/netdata\ni.cloudd=unreadable\ni.version=netdata v2.11.0\nend=1\n"}
	c := New(fake, Options{Token: tokenOf("good-token")})
	res := c.Do(t.Context(), &inventory.Host{Name: "h", User: "ops", Become: "none"})
	if res.Status != StatusFailed || res.Category != CatNoPrivilege {
		t.Fatalf("%s [%s] %s", res.Status, res.Category, res.Message)
	}
	for _, want := range []string{"logged in as ops", "run-as user netdata", "become: sudo"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q lacks %q", res.Message, want)
		}
	}
	if !strings.Contains(res.Remedy, "become") || !strings.Contains(res.Remedy, "interactive authentication") {
		t.Errorf("remedy %q", res.Remedy)
	}
	if fake.runs != 1 {
		t.Errorf("%d commands ran, want only the probe", fake.runs)
	}
}

// probeOnly answers every command with the probe output it holds.
type probeOnly struct {
	remote.Local
	out  string
	runs int
}

func (p *probeOnly) Run(context.Context, string, io.Reader) (remote.Result, error) {
	p.runs++
	return remote.Result{Stdout: []byte(p.out)}, nil
}

func (p *probeOnly) Connect(context.Context, *inventory.Host) (Conn, error) { return p, nil }

// TestRootAndDockerRunners: kickstart needs root (become_user must not be
// another user); docker runs with the runner the probe saw its socket with.
func TestRootAndDockerRunners(t *testing.T) {
	conn := &remote.Local{}
	sudo := remote.Privileged(conn, remote.Become{Method: "sudo"}, "")
	asAgent := remote.Privileged(conn, remote.Become{Method: "sudo"}, "netdata")
	refused := &remote.Error{Category: remote.CatNoPrivilege, Err: errString("sudo: a password is required")}
	ops := &remote.ProbeFacts{User: "ops", UID: 1001, ProbeUser: "ops", ProbeUID: 1001}
	opsViaSudo := &remote.ProbeFacts{User: "ops", UID: 1001, ProbeUser: "root", ProbeUID: 0, ProbeVia: "sudo"}
	root := &remote.ProbeFacts{User: "root", UID: 0, ProbeUser: "root", ProbeUID: 0}
	run := func(f *remote.ProbeFacts, become remote.Runner, becomeErr error, becomeUser string, probeRun remote.Runner) *hostRun {
		return &hostRun{h: &inventory.Host{User: f.User, Become: "sudo", BecomeUser: becomeUser}, res: &Result{},
			conn: conn, facts: f, become: become, becomeErr: becomeErr, probeRun: probeRun}
	}
	name := func(r remote.Runner, err error) Category { // a runner, or the error's category
		switch {
		case err != nil:
			return CategoryOf(err)
		case r == sudo:
			return "sudo"
		case r == asAgent:
			return "sudo-as-netdata"
		case r == remote.Runner(conn):
			return "conn"
		}
		return "another runner"
	}
	root1 := []struct {
		name string
		r    *hostRun
		want Category
	}{
		{"root login", run(root, nil, nil, "", conn), "conn"},
		{"sudo as root", run(opsViaSudo, sudo, nil, "", sudo), "sudo"},
		{"sudo as the agent's user", run(opsViaSudo, asAgent, nil, "netdata", asAgent), CatNoPrivilege},
		{"sudo refused", run(ops, sudo, refused, "", conn), CatNoPrivilege},
		{"no become", run(ops, nil, nil, "", conn), CatNoPrivilege},
	}
	for _, tc := range root1 {
		if got := name(tc.r.rootRunner()); got != tc.want {
			t.Errorf("rootRunner, %s: %s, want %s", tc.name, got, tc.want)
		}
	}
	withSocket := func(f *remote.ProbeFacts, state string, containers int) *remote.ProbeFacts {
		c := *f
		c.DockerSocket = state
		c.Containers = make([]remote.Container, containers)
		return &c
	}
	docker := []struct {
		name string
		r    *hostRun
		want Category
	}{
		{"docker group user", run(withSocket(ops, "accessible", 1), nil, nil, "", conn), "conn"},
		{"docker through sudo", run(withSocket(opsViaSudo, "accessible", 1), sudo, nil, "", sudo), "sudo"},
		{"socket denied, no become", run(withSocket(ops, "denied", 0), nil, nil, "", conn), CatNoPrivilege},
		{"socket denied, sudo refused", run(withSocket(ops, "denied", 0), sudo, refused, "", conn), CatNoPrivilege},
	}
	for _, tc := range docker {
		if got := name(tc.r.dockerRunner()); got != tc.want {
			t.Errorf("dockerRunner, %s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
