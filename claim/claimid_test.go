package claim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The v1 netdata-claim.sh reads the claim id from the machine GUID file
// unless -id= is given, and evals it as part of its curl url (netdata
// v1.37.1 claim/netdata-claim.sh.in:171-173, 266, 330); the file belongs to
// the agent's user. fleetclaim passes the GUID the probe read, checked as a
// UUID, so the file's content never reaches that eval.

// TestClaimScriptPassesTheProbedGUID: the v1 claim gives -id= the machine
// GUID the probe read.
func TestClaimScriptPassesTheProbedGUID(t *testing.T) {
	root := fakeV1Install(t, currentUser(t), 0, "Node was successfully claimed.")
	c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-token")})
	res := c.Do(context.Background(), testHost(root, ""))
	if res.Status != StatusClaimed {
		t.Fatalf("%+v", res)
	}
	args, _ := os.ReadFile(filepath.Join(root, "opt/netdata/args"))
	if !strings.Contains(string(args), "\n-id=0f6a3c55-7c1e-4f0e-9d55-0c4f5d2d9e11\n") {
		t.Errorf("netdata-claim.sh was not given the probed GUID: %q", args)
	}
}

// TestClaimScriptRefusesAHostileGUID: a machine GUID file that is not a
// UUID stops the v1 claim before netdata-claim.sh runs.
func TestClaimScriptRefusesAHostileGUID(t *testing.T) {
	root := fakeV1Install(t, currentUser(t), 0, "Node was successfully claimed.")
	guid := filepath.Join(root, "opt/netdata/var/lib/netdata/registry/netdata.public.unique.id")
	if err := os.WriteFile(guid, []byte("$(touch PWNED)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := New(localConnector{}, Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-token")})
	res := c.Do(context.Background(), testHost(root, ""))
	if res.Status != StatusFailed || !strings.Contains(strings.ToLower(res.Message), "guid") {
		t.Errorf("a hostile GUID file: %s [%s] %q", res.Status, res.Category, res.Message)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/netdata/args")); !os.IsNotExist(err) {
		t.Errorf("netdata-claim.sh ran with a GUID file that is not a UUID")
	}
}
