package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// checkedAsAList is what a claim run's checks did to its hosts when they
// held every host resolved (fleetclaim before its hosts were resolved one
// at a time): the whole list through each step in turn.
func checkedAsAList(t *testing.T, cr *claimRun) []*inventory.Host {
	t.Helper()
	hosts := make([]*inventory.Host, cr.sel.Len())
	for i := range hosts {
		hosts[i] = cr.sel.Host(i)
		cr.override(hosts[i])
	}
	if cr.dropNames {
		dropRoomNamesWithoutAPI(hosts)
	}
	if err := cr.inv.ResolveRoomNames(hosts, cr.cloud.roomLister); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if cr.f.fetchClaimToken && cr.cloud.target(h) != nil {
			h.Claim.Token = inventory.SecretRef{Inline: cr.cloud.fetched[cr.cloud.target(h)].Reveal()}
		}
	}
	return hosts
}

// TestRunHostsAsChecked: the hosts a claim run resolves one at a time,
// for its checks and when the rollout reaches them, are the hosts the
// checks of the whole list made: rooms by name made ids or dropped,
// --token-file, --api-insecure, --fetch-claim-token's token.
func TestRunHostsAsChecked(t *testing.T) {
	info := startLab(t, 4)
	inv := filepath.Join(info.Dir, "inventory.yml")
	token := filepath.Join(info.Dir, "other-token")
	writeTestFile(t, token, "tok\n")
	for _, tc := range []struct {
		mode claim.Mode
		args []string
	}{
		{claim.ModePlan, nil},
		{claim.ModeClaim, []string{"--token-file", token}},
		{claim.ModeVerify, []string{"--api-insecure"}},
		{claim.ModeUnclaim, nil},
		{claim.ModeClaim, []string{"--fetch-claim-token"}},
	} {
		args := append([]string{"-i", inv, "--no-history", "--no-progress"}, tc.args...)
		cr, code, ok := prepareClaim(context.Background(), tc.mode, args, io.Discard)
		if !ok {
			t.Fatalf("%s %v: refused, exit %d", tc.mode, tc.args, code)
		}
		o, ok := cr.openOutputs(context.Background(), io.Discard)
		if !ok {
			t.Fatalf("%s %v: outputs refused", tc.mode, tc.args)
		}
		o.close()
		want := checkedAsAList(t, cr)
		if len(want) != 4 {
			t.Fatalf("%s %v: %d hosts", tc.mode, tc.args, len(want))
		}
		for i := range want {
			if got := cr.host(i); !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%s %v: host %d resolved again\n%+v\nchecked as a list\n%+v", tc.mode, tc.args, i, got, want[i])
			}
		}
	}
	_ = os.Remove(token)
}
