package claim

import (
	"context"
	"testing"
	"time"
)

// TestVerifyRecordsTheClaimMethod: verify is a mode, not a method. Its
// record names the claim method the host has (what claim would use), as a
// claim's record does, never "verify".
func TestVerifyRecordsTheClaimMethod(t *testing.T) {
	h := testHost(fakeInstall(t, currentUser(t)), "")
	opts := Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}
	if res := New(localConnector{}, opts).Do(context.Background(), h); res.Status != StatusClaimed {
		t.Fatalf("claim: %+v", res)
	}
	opts.Mode = ModeVerify
	res := New(localConnector{}, opts).Do(context.Background(), h)
	if res.Status != StatusAlreadyClaimed || res.Method != MethodClaimConf {
		t.Fatalf("verify: status %s method %q, want %s and %q: %+v", res.Status, res.Method, StatusAlreadyClaimed, MethodClaimConf, res)
	}
}

// TestUnclaimRecordsTheClaimMethod: unclaim is a mode, not a method: its
// record, like verify's, names the host's claim method (a plan of it too),
// never "unclaim".
func TestUnclaimRecordsTheClaimMethod(t *testing.T) {
	h := testHost(fakeInstall(t, currentUser(t)), "")
	opts := Options{Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")}
	if res := New(localConnector{}, opts).Do(context.Background(), h); res.Status != StatusClaimed {
		t.Fatalf("claim: %+v", res)
	}
	for _, o := range []Options{{Mode: ModePlan, Unclaim: true}, {Mode: ModeUnclaim}} {
		res := New(localConnector{}, o).Do(context.Background(), h)
		if !res.Status.OK() || res.Method != MethodClaimConf {
			t.Errorf("%s (unclaim %v): status %s method %q, want %q: %+v", o.Mode, o.Unclaim, res.Status, res.Method, MethodClaimConf, res)
		}
	}
}
