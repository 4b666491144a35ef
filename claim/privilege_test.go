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
	opsViaSudo := &remote.Facts{User: "ops", UID: 1001, ProbeUser: "root", ProbeUID: 0, ProbeVia: "sudo"}
	ops := &remote.Facts{User: "ops", UID: 1001, ProbeUser: "ops", ProbeUID: 1001}
	root := &remote.Facts{User: "root", UID: 0, ProbeUser: "root", ProbeUID: 0}
	agentUser := &remote.Facts{User: "netdata", UID: 998, ProbeUser: "netdata", ProbeUID: 998}
	cases := []struct {
		name       string
		f          *remote.Facts
		become     remote.Runner
		becomeErr  error
		becomeUser string
		want       string // "conn", "sudo" or an error category
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
			got := "conn"
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
