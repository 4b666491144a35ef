package main

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
)

// TestRunHostsAsChecked: the hosts a claim run resolves again when it
// reaches them are the hosts prepareClaim checked (and openOutputs gave
// their fetched token): rooms by name made ids or dropped, --token-file,
// --api-insecure, --fetch-claim-token.
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
		if len(cr.hosts) != 4 {
			t.Fatalf("%s %v: %d hosts", tc.mode, tc.args, len(cr.hosts))
		}
		for i, want := range cr.hosts {
			if got := cr.host(i); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: host %d resolved again\n%+v\nchecked\n%+v", tc.mode, tc.args, i, got, want)
			}
		}
	}
}
